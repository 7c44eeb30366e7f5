"""The `negrec` command: thin wrappers that parse options, call the library and print."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from negrec.cli.common import (
    ItemColOpt,
    ItemsOpt,
    OverwriteOpt,
    RatingColOpt,
    SepOpt,
    TimeColOpt,
    UserColOpt,
    command_group,
    console,
    log_line,
    print_llm_summary,
    progress_bar,
    table_options,
    user_errors,
)

app = command_group("negrec: negative sampling as a first-class, measured part of training recommenders.")
data_app = command_group("Inspect and synthesise datasets.")
app.add_typer(data_app, name="data")


@app.callback()
def root(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", help="Also show library logs, progress bars and trainer lines (they always go to the run's log file)."
        ),
    ] = False,
    threads: Annotated[
        Optional[int],
        typer.Option(
            min=1,
            envvar="NEGREC_THREADS",
            help="torch intra-op threads for this command (default: torch's "
            "choice). Two torch processes on the same cores slow each "
            "other far more than 2×: give each its share.",
        ),
    ] = None,
) -> None:
    """negrec: negative sampling as a first-class, measured part of training recommenders."""
    from negrec.llm.logs import set_verbose

    set_verbose(verbose)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _register_groups() -> None:
    """Sub-command groups that live in their own modules."""
    from negrec.cli.cf import app as cf_app
    from negrec.cli.llm import app as llm_app
    from negrec.cli.negatives import app as negatives_app
    from negrec.cli.seq import app as seq_app

    app.add_typer(cf_app, name="cf")
    app.add_typer(seq_app, name="seq")
    app.add_typer(llm_app, name="llm")
    app.add_typer(negatives_app, name="negatives")


class FormatName(str, Enum):
    auto = "auto"
    movielens_100k = "movielens-100k"
    ml_latest_small = "ml-latest-small"
    goodreads = "goodreads"
    kaggle = "kaggle"
    table = "table"
    synthetic = "synthetic"


class ConventionName(str, Enum):
    clean = "clean"
    seed_ns = "seed-ns"
    seed_ce = "seed-ce"


def _print_mapping(title: str, mapping: dict) -> None:
    table = Table(title=title, show_header=False)
    for key, value in mapping.items():
        if isinstance(value, float):
            value = f"{value:.6g}"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}" for k, v in value.items())
        table.add_row(str(key), str(value))
    console.print(table)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Report folder.")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic dataset, the models and the samplers.")] = 0,
    users: Annotated[int, typer.Option(help="Synthetic users.")] = 600,
    items: Annotated[int, typer.Option(help="Synthetic items.")] = 500,
    samplers: Annotated[Optional[str], typer.Option(help="Comma-separated sampler specs (default: all).")] = None,
    epochs: Annotated[int, typer.Option(help="Maximum training epochs per sampler.")] = 30,
    seeds: Annotated[
        int,
        typer.Option(
            help="Model seeds of the CF comparison (--seed and the ones after it): above 1, the report averages each "
            "user's metrics over them and adds their spread (seeds.*)."
        ),
    ] = 1,
    llm: Annotated[
        bool, typer.Option(help="Also run the quick LLM recipe (tiny model, SFT, candidates, DPO/S-DPO, SPRec) into <out>/llm.")
    ] = True,
    overwrite: Annotated[
        bool, typer.Option(help="Replace an existing demo folder (deleted once the new one is complete).")
    ] = False,
) -> None:
    """Compare negative samplers for MF on the embedded synthetic dataset, then run the quick LLM recipe."""
    from contextlib import ExitStack

    from negrec.cf.trainer import TrainConfig
    from negrec.data.outputs import replaceable_run, writer_lock
    from negrec.data.synthetic import SyntheticConfig
    from negrec.experiments.demo import DEMO_KIND

    chosen = [s.strip() for s in samplers.split(",")] if samplers else None
    if seeds < 1:
        with user_errors():
            raise ValueError(f"--seeds must be ≥ 1, got {seeds}")
    frame = ExitStack()  # the folder stays claimed (and the one it replaces kept aside) until the whole demo is done
    with user_errors():
        frame.enter_context(writer_lock(out))
        frame.enter_context(replaceable_run(out, resume=False, overwrite=overwrite, kind=DEMO_KIND, resumable=False))
    with frame:
        synthetic = SyntheticConfig(n_users=users, n_items=items, seed=seed)
        _demo(out, synthetic, chosen, TrainConfig(epochs=epochs, seed=seed), llm, seeds)


def _demo(out: Path, config, samplers: list[str] | None, train_config, llm: bool, seeds: int = 1) -> None:
    """The demo's work and its terminal tables, in a claimed folder."""
    from negrec.experiments.demo import run_demo

    result = run_demo(
        out,
        config,
        samplers=samplers,
        train_config=train_config,
        log=console.print,
        progress=progress_bar("training MF once per negative sampler"),
        llm=llm,
        seeds=seeds,
    )
    table = Table(title="Negative samplers for MF on the synthetic dataset (leave-last-out test items)")
    metrics = list(next(iter(result["metrics"].values())))
    table.add_column("system", overflow="fold")  # long sampler names wrap instead of being cut
    for m in metrics:
        table.add_column(m, justify="right")
    for name, values in result["metrics"].items():
        table.add_row(name, *(f"{values[m]:.4f}" for m in metrics))
    console.print(table)
    console.print(f"CF report: {out / 'README.md'}")
    if llm:
        from negrec.experiments.demo import run_llm_demo

        summary = run_llm_demo(out / "llm", log=log_line)
        print_llm_summary(
            summary,
            "LLM recommenders on the synthetic dataset (tiny title-token model; "
            "seed = one greedy answer grounded by the seed's encoder, ranked = 10 constrained beams, "
            "candidates = the choice among the target and 19 drawn titles)",
        )
        console.print(f"LLM report: {out / 'llm' / 'report' / 'metrics.md'}")


@data_app.command("info")
def data_info(
    source: Annotated[str, typer.Argument(help="Folder/file, a dataset name under the data root, or 'synthetic'.")],
    format: Annotated[FormatName, typer.Option("--format", help="Dataset format (auto-detected by default).")] = FormatName.auto,
    data_dir: Annotated[Optional[Path], typer.Option(help="Data root (default: $NEGREC_DATA_DIR).")] = None,
    user_col: Annotated[str, typer.Option(help="Table format: user column.")] = "user",
    item_col: Annotated[str, typer.Option(help="Table format: item column.")] = "item",
    rating_col: Annotated[Optional[str], typer.Option(help="Table format: rating column.")] = None,
    time_col: Annotated[Optional[str], typer.Option(help="Table format: timestamp column.")] = None,
    sep: Annotated[str, typer.Option(help="Table format: field separator.")] = ",",
    threshold: Annotated[Optional[float], typer.Option(help="Keep ratings ≥ this (implicit feedback).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Users, items, interactions, density, popularity Gini and genre shares of a dataset."""
    from negrec.data import formats, goodreads, kaggle, stats, synthetic, tabular

    with user_errors():
        fmt = format.value
        if source == "synthetic" or fmt == "synthetic":
            data = synthetic.generate()
            result = stats.dataset_stats(data.interactions, data.catalog)
        else:
            path = formats.resolve_source(source, data_dir)
            fmt = formats.detect_format(path) if fmt == "auto" else fmt
            if fmt == "goodreads":
                catalog = goodreads.load_goodreads_catalog(path)
                summary = goodreads.goodreads_summary(path, catalog)
                train = path / "train.json"
                result = {"format": fmt, **summary, "warnings": _catalog_warnings(catalog)}
                if train.is_file():
                    split = goodreads.load_goodreads_records(train, catalog)
                    inter = goodreads.history_interactions(split, catalog.n_items)
                    result["train_histories"] = stats.dataset_stats(inter, catalog)
            else:
                loaders = {
                    "movielens-100k": lambda: tabular.load_movielens_100k(path),
                    "ml-latest-small": lambda: tabular.load_movielens_latest(path),
                    "kaggle": lambda: kaggle.load_kaggle(path),
                    "table": lambda: tabular.load_table(
                        path,
                        user_col=user_col,
                        item_col=item_col,
                        rating_col=rating_col,
                        time_col=time_col,
                        sep=sep,
                        threshold=threshold,
                    ),
                }
                ds = loaders[fmt]()
                result = {"format": fmt, **stats.dataset_stats(ds.interactions, ds.catalog)}
    if as_json:
        console.print_json(json.dumps(result))
        return
    warnings = result.pop("warnings", [])
    nested = {k: v for k, v in result.items() if isinstance(v, dict) and k != "genre_shares"}
    _print_mapping(f"{source}", {k: v for k, v in result.items() if k not in nested})
    for key, value in nested.items():
        if key == "files":
            for name, info in value.items():
                _print_mapping(f"{source}/{name}", info)
        else:
            _print_mapping(f"{source}: {key}", value)
    for line in warnings:
        console.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)


def _catalog_warnings(catalog) -> list[str]:
    """What in a Goodreads-layout catalog would mislead the LLM stages or the fairness metrics."""
    import numpy as np

    from negrec.data.prompts import title_clashes

    lines = title_clashes(catalog.titles or [])
    if catalog.genres is not None and catalog.fairness_genres:
        counts = dict(zip(catalog.genre_names, np.asarray(catalog.genres.sum(axis=0)).ravel().tolist()))
        unused = [g for g in catalog.fairness_genres if not counts.get(g)]
        if unused:
            lines.append(
                f"genre_dict.json names {len(unused)} genre(s) that no item has, e.g. {unused[0]!r} (DGU/MGU count them)"
            )
    return lines


@data_app.command("synth")
def data_synth(
    out: Annotated[Path, typer.Option(help="Output folder (Goodreads layout + interactions.csv).")],
    users: Annotated[int, typer.Option(help="Number of users.")] = 600,
    items: Annotated[int, typer.Option(help="Number of items.")] = 500,
    genres: Annotated[int, typer.Option(help="Number of genres (≤ 12).")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    overwrite: OverwriteOpt = False,
) -> None:
    """Write the seeded synthetic dataset to a folder."""
    from negrec.data.outputs import atomic_dir, claim_output
    from negrec.data.stats import dataset_stats
    from negrec.data.synthetic import SyntheticConfig, generate, write_goodreads_dir

    with user_errors():
        claim_output(out, overwrite=overwrite, kind="synthetic-data")
        data = generate(
            SyntheticConfig(n_users=users, n_items=items, n_genres=genres, n_fairness_genres=min(7, genres), seed=seed)
        )
        with atomic_dir(out, kind="synthetic-data") as folder:  # no file of an earlier folder stays mixed in
            write_goodreads_dir(data, folder)
    _print_mapping(f"synthetic dataset → {out}", dataset_stats(data.interactions, data.catalog))


@data_app.command("llm-records")
def data_llm_records(
    source: Annotated[
        str,
        typer.Argument(
            help="A dataset with item titles: a name under the data root (e.g. movielens-100k), "
            "a path (with --items for a generic table), or 'synthetic'."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder to write in the Goodreads LLM layout (records + catalog files).")],
    data_dir: Annotated[Optional[Path], typer.Option(help="Data root (default: $NEGREC_DATA_DIR).")] = None,
    history: Annotated[int, typer.Option(help="History items per record (the latest before the target).")] = 10,
    min_history: Annotated[int, typer.Option(help="Fewest history items a record may have.")] = 3,
    train_per_user: Annotated[int, typer.Option(help="Training records per user (the latest positions before validation).")] = 5,
    valid: Annotated[
        Optional[int], typer.Option(help="Validation records: this many users at random (default: every user).")
    ] = None,
    test: Annotated[Optional[int], typer.Option(help="Test records: this many users at random (default: every user).")] = None,
    train_sample: Annotated[
        Optional[int],
        typer.Option(help="Also write train_sample.json: this many training records at random (the seed's preference set)."),
    ] = None,
    threshold: Annotated[
        Optional[float],
        typer.Option(
            help="Keep ratings ≥ this (default: 4 where the data has ratings — a history is what the user enjoyed; "
            "0 keeps every rating)."
        ),
    ] = None,
    noun: Annotated[str, typer.Option(help="What the prompts call the items, plural (the seed: books).")] = "items",
    wording: Annotated[
        str,
        typer.Option(
            help="seed: the seed's sentences verbatim ('recommend a new {noun} … the user may bought'); plain: "
            "grammatical ones for any noun ('recommend another one the user may like')."
        ),
    ] = "seed",
    seed: Annotated[int, typer.Option(help="Seed of the validation and test users' draw.")] = 0,
    user_col: UserColOpt = "user",
    item_col: ItemColOpt = "item",
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = ",",
    items: ItemsOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Turn an interactions dataset with titles into LLM records: per user, the last item tests, the one before
    validates, earlier positions train; titles made unique and safe for the prompt format."""
    from negrec.data.formats import resolve_source
    from negrec.data.llm_records import RECORDS_KIND, RecordsConfig, liked, write_llm_records
    from negrec.data.outputs import atomic_dir, claim_output
    from negrec.experiments.cf import load_cf_dataset

    with user_errors():
        config = RecordsConfig(
            history=history,
            min_history=min_history,
            train_per_user=train_per_user,
            valid=valid,
            test=test,
            train_sample=train_sample,
            seed=seed,
            noun=noun,
            wording=wording,
        )
        source_path = None if source == "synthetic" else resolve_source(source, data_dir)
        claim_output(out, overwrite=overwrite, inputs=[source_path, items], kind=RECORDS_KIND)
        data = load_cf_dataset(source, data_dir, table=table_options(user_col, item_col, rating_col, time_col, sep, items))
        inter, used = liked(data.interactions, threshold, source)
        with atomic_dir(out, kind=RECORDS_KIND) as folder:
            counts = write_llm_records(folder, inter, data.catalog, config)
    console.print(", ".join(f"{name}: {n} records" for name, n in counts.items()) + f" → {out}", markup=False, soft_wrap=True)
    if threshold is None and used is not None:  # a 1-star rating would be a movie the user "recently enjoys"
        console.print(
            f"note: ratings ≥ {used:g} only (the default: a record's history is what its prompt says the user enjoyed); "
            "--threshold 0 keeps every rating",
            markup=False,
            soft_wrap=True,
        )


@data_app.command("kaggle")
def data_kaggle(
    source: Annotated[
        str, typer.Argument(help="A dataset name under the data root (e.g. movielens-100k), a path, or 'synthetic'.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Kaggle-format CSV to write (UserId,ItemId with space-separated ids; each user's "
            "items in time order where the data has timestamps, else in catalog order)."
        ),
    ],
    data_dir: Annotated[Optional[Path], typer.Option(help="Data root (default: $NEGREC_DATA_DIR).")] = None,
    threshold: Annotated[Optional[float], typer.Option(help="Keep ratings ≥ this (implicit feedback).")] = None,
    hide: Annotated[
        float,
        typer.Option(
            help="Share of each user's items (int(n·share), chosen at random) written to --hidden "
            "instead of --out: a nested hold-out to score a submission on."
        ),
    ] = 0.0,
    hidden: Annotated[Optional[Path], typer.Option(help="Where the hidden items go (needed with --hide).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the hidden items' choice.")] = 0,
    user_col: UserColOpt = "user",
    item_col: ItemColOpt = "item",
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    sep: SepOpt = ",",
    items: ItemsOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Write a dataset in the course homework's Kaggle format, optionally with a nested hold-out."""
    from negrec.data.formats import resolve_source
    from negrec.data.kaggle import kaggle_lists, write_kaggle_lists
    from negrec.data.outputs import claim_output
    from negrec.data.splits import per_user_ratio_split
    from negrec.experiments.cf import load_cf_dataset

    with user_errors():
        if not 0.0 <= hide < 1.0:
            raise ValueError(f"--hide must be in [0, 1), got {hide}")
        if hide > 0 and hidden is None:
            raise ValueError("--hide needs --hidden (the file the hidden items go to)")
        if hidden is not None and hidden.resolve() == out.resolve():
            raise ValueError(f"--hidden and --out are the same file ({out}): the hidden items would replace the training ones")
        if hidden is not None and hide == 0:
            raise ValueError("--hidden needs --hide > 0 (without it nothing is hidden, and --out would hold every item)")
        source_path = None if source == "synthetic" else resolve_source(source, data_dir)
        claim_output(out, overwrite=overwrite, inputs=[source_path, items])
        if hidden is not None:
            # rewriting --out alone over an earlier nested hold-out would put the hidden items back into training
            claim_output(hidden, overwrite=overwrite, inputs=[source_path, out, items], option="--hidden")
        data = load_cf_dataset(source, data_dir, table=table_options(user_col, item_col, rating_col, time_col, sep, items))
        inter = data.interactions
        if threshold is not None:
            if not inter.has_ratings:
                raise ValueError(f"--threshold needs ratings; {source} has none")
            inter = inter.at_least(threshold)
        parts = [(out, inter)]
        if hide > 0:
            split = per_user_ratio_split(inter, ratio=hide, seed=seed)
            parts = [(out, split.train), (hidden, split.valid)]
        for path, part in parts:
            users, lists = kaggle_lists(part, data.catalog)
            write_kaggle_lists(path, users, lists)
            typer.echo(f"{len(users)} users, {sum(map(len, lists))} user–item entries → {path}")


@app.command("eval")
def eval_command(
    recs: Annotated[Path, typer.Option(help="Recommendations, Kaggle format (UserId,ItemId with space-separated ids).")],
    truth: Annotated[Path, typer.Option(help="Ground truth in the same format.")],
    train: Annotated[Optional[Path], typer.Option(help="Training interactions (same format): popularity metrics.")] = None,
    k: Annotated[list[int], typer.Option("--k", help="Cut-offs (repeatable).")] = [10],
    conventions: Annotated[ConventionName, typer.Option(help="Denominator conventions.")] = ConventionName.clean,
    out: Annotated[Optional[Path], typer.Option(help="Folder for metrics.{md,csv,json} and per_user.csv.")] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Score a recommendations file against ground truth and print the metrics table."""
    import numpy as np

    from negrec.data.catalog import Catalog
    from rich.markup import escape

    from negrec.data.kaggle import first_seen_ids, load_kaggle, read_kaggle_lists
    from negrec.errors import DataError
    from negrec.eval.evaluate import evaluate
    from negrec.report.compare import write_comparison

    from negrec.data.outputs import atomic_dir, claim_output

    with user_errors():
        if out is not None:
            claim_output(out, overwrite=overwrite, inputs=[recs, truth, train], kind="eval-report")
        rec_users, rec_lists = read_kaggle_lists(recs)
        truth_users, truth_lists = read_kaggle_lists(truth)
        train_lists = read_kaggle_lists(train)[1] if train else []
        catalog = Catalog.from_ids(first_seen_ids(truth_lists, train_lists, rec_lists), name="items")
        gt = load_kaggle(truth, catalog=catalog)
        row_of = {u: r for r, u in enumerate(gt.interactions.user_ids.tolist())}
        width = max(max(k), max(len(x) for x in rec_lists))
        matrix = np.full((gt.interactions.n_users, width), -1, dtype=np.int64)
        for user, items in zip(rec_users, rec_lists):
            if user in row_of:
                matrix[row_of[user], : len(items)] = catalog.index_of(items)
        missing = len(row_of) - len(set(row_of) & set(rec_users.tolist()))
        if missing == len(row_of):
            raise DataError(f"no user of {truth} has a row here (user ids differ?)", path=recs)
        if missing:
            console.print(
                f"[yellow]warning:[/] {missing} of {len(row_of)} users in {escape(str(truth))} have no row in "
                f"{escape(str(recs))}; they count as empty lists",
                highlight=False,
            )
        popularity = None
        if train:
            tr = load_kaggle(train, catalog=catalog)
            popularity = tr.interactions.popularity()
        ev = evaluate(matrix, gt.interactions.matrix, ks=list(k), conventions=conventions.value, popularity=popularity)
    _print_mapping(f"{recs.name} vs {truth.name} ({ev.n_valid} users)", ev.summary())
    if out is not None:
        with user_errors(), atomic_dir(out, kind="eval-report") as folder:
            write_comparison(folder, {recs.stem: ev}, list(ev.summary()))
        console.print(f"written to {out}")


_register_groups()

if __name__ == "__main__":
    app()
