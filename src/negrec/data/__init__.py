"""Data layer: catalog, interactions, sequences, loaders, splits and the synthetic default."""

from negrec.data.catalog import Catalog, normalise_title
from negrec.data.goodreads import GoodreadsSplit, load_goodreads_catalog, load_goodreads_records
from negrec.data.interactions import Interactions
from negrec.data.kaggle import load_kaggle, write_submission
from negrec.data.sequences import Recommendations, Sequences, targets_to_csr
from negrec.data.splits import Split, leave_last_out, per_user_ratio_split, ratio_split, sliding_windows
from negrec.data.synthetic import SyntheticConfig, SyntheticData, generate, write_goodreads_dir
from negrec.data.tabular import Dataset, load_movielens_100k, load_movielens_latest, load_table

__all__ = [
    "Catalog",
    "Dataset",
    "GoodreadsSplit",
    "Interactions",
    "Recommendations",
    "Sequences",
    "Split",
    "SyntheticConfig",
    "SyntheticData",
    "generate",
    "leave_last_out",
    "load_goodreads_catalog",
    "load_goodreads_records",
    "load_kaggle",
    "load_movielens_100k",
    "load_movielens_latest",
    "load_table",
    "normalise_title",
    "per_user_ratio_split",
    "ratio_split",
    "sliding_windows",
    "targets_to_csr",
    "write_goodreads_dir",
    "write_submission",
]
