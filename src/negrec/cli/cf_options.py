"""The `negrec cf` command group and what its commands share: the data options block (dataset, protocol, split seed,
generic-table columns, interest clusters), the run options, and preparing a dataset before any training."""

from __future__ import annotations

import inspect
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional, get_args

import typer

from negrec.cf import names as trainer_types
from negrec.cli.common import ConfigOpt, OverwriteOpt, command_group, keyword, table_block

app = command_group("Collaborative filtering with measured negative sampling.")


class ProtocolName(str, Enum):
    ratio = "ratio"
    leave_last_out = "leave-last-out"
    homework = "homework"
    temporal = "temporal"


def choices(name: str, literal) -> type[Enum]:
    """A CLI choice enum spelled exactly as the library's Literal (one spelling per concept: they cannot drift)."""
    return Enum(name, {value.replace("-", "_"): value for value in get_args(literal)}, type=str)


ModelName = choices("ModelName", trainer_types.ModelName)
DatasetOpt = Annotated[str, typer.Option(help="'synthetic', a dataset name under the data root (e.g. movielens-100k) or a path.")]
DataDirOpt = Annotated[Optional[Path], typer.Option(help="Data root (default: $NEGREC_DATA_DIR).")]
ProtocolOpt = Annotated[
    ProtocolName,
    typer.Option(
        help="ratio (cornac RatioSplit, 20 % test, ratings ≥ 4), leave-last-out, homework, temporal (a global time cut: the "
        "latest 20 % of entries test, the 10 % before validate; --test-size and --val-size move the cut)."
    ),
]
ThresholdOpt = Annotated[
    Optional[float],
    typer.Option(help="Ratings ≥ this are the positives (default: 4 with --protocol ratio, every entry otherwise)."),
]
ModelOpt = Annotated[ModelName, typer.Option(help="Model.")]
ValSizeOpt = Annotated[
    float, typer.Option(help="ratio and temporal protocols: validation share of all entries (temporal: 0.1 when 0).")
]
TestSizeOpt = Annotated[
    Optional[float], typer.Option(help="ratio and temporal protocols: test share of all entries (default 0.2).")
]
SeedOpt = Annotated[int, typer.Option(help="Seed of the split, the models and the samplers.")]
CFReportTo = Enum("CFReportTo", {name: name for name in ("none", "tensorboard")}, type=str)
ReportToOpt = Annotated[
    CFReportTo, typer.Option(help="Track the run: tensorboard writes its epochs and test metrics to <run>/tensorboard/.")
]
ClustersOpt = Annotated[
    str,
    typer.Option(
        help="Interest clusters of the cluster samplers: genres:3 (a user's top-3 genres) or embedding:K (K k-means "
        "clusters of MF item vectors learned from the training positives; works without genres)."
    ),
]


SIZED = ("ratio", "temporal")  # the protocols whose held-out parts are shares of all entries
TEST_SIZE = 0.2


def data_block() -> list[inspect.Parameter]:
    """Where the data comes from and how it is split: one block, the same in every command that trains."""
    return [
        keyword("dataset", DatasetOpt, "synthetic"),
        keyword("data_dir", DataDirOpt, None),
        keyword("protocol", ProtocolOpt, ProtocolName.leave_last_out),
        keyword("threshold", ThresholdOpt, None),
        keyword("val_size", ValSizeOpt, 0.0),
        keyword("test_size", TestSizeOpt, None),
        keyword("seed", SeedOpt, 123),
        *table_block(),
        keyword("clusters", ClustersOpt, "genres:3"),
    ]


def run_block() -> list[inspect.Parameter]:
    """What a run writes and how: overwrite, tracking, a config file of options."""
    return [
        keyword("overwrite", OverwriteOpt, False),
        keyword("report_to", ReportToOpt, CFReportTo.none),
        keyword("config", ConfigOpt, None),
    ]


def train_config(options: dict):
    """The `TrainConfig` of a command's options: the fields it names (choices by value, --static as the negatives'
    mode, --seed as the model's seed), `TrainConfig`'s defaults for the rest."""
    from dataclasses import fields

    from negrec.cf.settings import TrainConfig
    from negrec.cli.common import plain_values

    names = {f.name for f in fields(TrainConfig)} - {"negatives"}
    values = plain_values({k: v for k, v in options.items() if k in names})
    return TrainConfig(**values, negatives="static" if options.get("static") else "dynamic")


def check_samplers(specs: list[str], config) -> list:
    """The specs parsed — here, once, at the edge — each able to sample where `config` asks (before any data is
    loaded or model trained); at least one is given."""
    from negrec.sampling.registry import parse_sampler

    if not specs:
        raise ValueError("--samplers lists no sampler")
    samplers = [parse_sampler(spec) for spec in specs]
    for sampler in samplers:
        config.samples_on_device(sampler)
    return samplers


def prepare_data(options: dict, samplers: list, *, say: bool = True):
    """Load and split the dataset of a command's data options, give the cluster samplers their interest clusters,
    then check the samplers against it (genres or clusters) before any training; `say`: print its data line."""
    from negrec.cli.common import table_options
    from negrec.launch import is_main_process
    from negrec.experiments.cf import check_samplers_fit, load_cf_dataset, prepare, with_clusters
    from negrec.sampling.clusters import parse_clusters

    from negrec.settings import check_tracker

    o = options
    if "report_to" in o:
        check_tracker(o["report_to"].value)
    definition = parse_clusters(o.get("clusters", "genres:3"))  # a bad spec is refused before the data is read
    protocol = ProtocolName(o["protocol"]).value
    for name, value in (("val-size", o["val_size"]), ("test-size", o.get("test_size"))):
        if value and protocol not in SIZED:
            raise ValueError(f"--{name} applies to the ratio and temporal protocols; {protocol} holds out its own parts")
    table = (
        table_options(o["user_col"], o["item_col"], o["rating_col"], o["time_col"], o["sep"], o["items"]) if "sep" in o else None
    )
    data = load_cf_dataset(o["dataset"], o["data_dir"], table=table)
    sizes = {"val_size": o["val_size"], "test_size": o.get("test_size") or TEST_SIZE}
    prep = prepare(data, protocol, seed=o["seed"], threshold=o.get("threshold"), **sizes)
    prep = with_clusters(prep, definition, o["seed"])
    check_samplers_fit(prep, samplers)
    if say and is_main_process():  # under a launch, rank 0 speaks for all
        typer.echo(prep.describe())
    return prep


PeerTrialsOpt = Annotated[
    int,
    typer.Option(
        min=0,
        help="Tune each --peers row as the others are selected: this many Optuna TPE trials of its search space, scored "
        "by NDCG@10 on the validation part, the best refitted (0: the libraries' defaults). The chosen settings go to "
        "peers.json.",
    ),
]


class Correction(str, Enum):
    """The finding's multiple-comparison correction."""

    holm = "holm"
    bh = "bh"
    none = "none"


CorrectionOpt = Annotated[
    Correction,
    typer.Option(
        help="Multiple-comparison correction the report's finding states and judges by: holm (family-wise), bh "
        "(Benjamini–Hochberg false discovery) or none; the paired-test table lists both corrected p-values anyway.",
    ),
]
