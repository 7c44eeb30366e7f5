"""Reports: metric tables (markdown/CSV/JSON) and PNG plots."""

from negrec.report.plots import metric_bars, scatter_tradeoff, training_curves
from negrec.report.tables import ResultTable

__all__ = ["ResultTable", "metric_bars", "scatter_tradeoff", "training_curves"]
