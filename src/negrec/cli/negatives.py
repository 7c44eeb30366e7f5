"""`negrec negatives …`: build preference data (annotate, select, self-play, CF-scored)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Optional, Sequence

import typer

from negrec.cli.common import OverwriteOpt, command_group, user_errors
from negrec.errors import DataError

app = command_group("Negative candidates → preference data (annotate, select, self-play, CF-scored).")


class Compat(str, Enum):
    clean = "clean"
    seed = "seed"


class Fmt(str, Enum):
    seed = "seed"
    trl = "trl"


CatalogOpt = Annotated[Path, typer.Option(help="Catalog folder (id2name.json, name2genre.json, genre_dict.json).")]
CompatOpt = Annotated[
    Compat,
    typer.Option(help="'seed' reproduces the seed's quirks: regex title parsing, empty-string negatives, self-play format."),
]
ExposureOpt = Annotated[
    Optional[str],
    typer.Option(
        help="'candidates' (seed: counts over the histories of the same file) or a records file whose histories "
        "give the counts (default: <catalog>/train.json)."
    ),
]
FormatOpt = Annotated[Fmt, typer.Option("--format", help="'seed': JSON array as the seed wrote; 'trl': JSONL for TRL / S-DPO.")]


ClustersOpt = Annotated[
    str,
    typer.Option(
        help="Interest clusters: genres:K (a user's top-K history genres; the seed's is genres:3) or embedding:K "
        "(K k-means clusters of item vectors learned from histories; a user's top 3)."
    ),
]
ClusterFromOpt = Annotated[
    Optional[Path],
    typer.Option(help="embedding:K — records whose histories the item vectors learn from (default: <catalog>/train.json)."),
]


def _exposure(option: str | None, catalog_dir: Path, parser: str):
    """None (= from the candidates themselves) or an Exposure from a training file."""
    from negrec.preference.annotate import histories_of
    from negrec.sampling.profiles import count_exposure

    if option == "candidates":
        return None
    path = Path(option) if option else catalog_dir / "train.json"
    if not path.is_file():
        raise DataError("exposure source not found; pass --exposure-from candidates or a training records file", path=path)
    typer.echo(f"exposure counted over the histories of {path}")
    return count_exposure(histories_of(path, parser))


def _check_known(ann, catalog, where: Path) -> None:
    """Candidates none of which is a catalog title come from another catalog: every strategy would fall back."""
    from negrec.data.titles import parse_target
    from negrec.errors import DataError

    given = [c for c in ann.candidates if c]
    if given and not any(catalog.lookup(parse_target(c)) >= 0 for c in given):
        raise DataError(
            f"none of its {len(given)} candidates is a title of --catalog (first: {given[0]!r}); is --catalog the "
            "catalog the candidates were generated from?",
            path=where,
        )


def _write_picks(
    strategy: str,
    known: Sequence[str],
    pick: Callable,
    out: Path,
    format: Fmt,
    catalog_dir: Path,
    annotated: Path | None,
    candidates: Path | None,
    exposure: str | None,
    compat: Compat,
    *,
    overwrite: bool,
    inputs: Sequence[Path | None] = (),
) -> None:
    """Shared body of `select` and `cf`: check the strategy and the output, load (or annotate) the candidates, pick,
    write."""
    from negrec.data.goodreads import load_goodreads_catalog
    from negrec.data.outputs import claim_output
    from negrec.preference.annotate import annotate, load_annotated, read_candidates
    from negrec.preference.negatives import write_preferences

    if strategy not in known:
        from negrec.sampling.registry import suggestion

        raise typer.BadParameter(f"unknown strategy {strategy!r}{suggestion(strategy, known)}; choose one of {', '.join(known)}")
    if (annotated is None) == (candidates is None):
        raise typer.BadParameter("give exactly one of --annotated or --candidates")
    parser = "seed" if compat == Compat.seed else "list"
    with user_errors():
        claim_output(out, overwrite=overwrite, inputs=[annotated, candidates, catalog_dir, exposure, *inputs])
        cat = load_goodreads_catalog(catalog_dir)
        if annotated is not None:
            ann = load_annotated(annotated)
        else:
            ann = annotate(
                read_candidates(candidates),
                cat,
                exposure=_exposure(exposure, catalog_dir, parser),
                parser=parser,
                where=str(candidates),
            )
        _check_known(ann, cat, annotated or candidates)
        rows, report = pick(cat, ann, parser)
        write_preferences(out, rows, format.value)
    typer.echo(f"{report.summary()} → {out}")


@app.command("annotate")
def annotate_command(
    candidates: Annotated[Path, typer.Option(help="Candidates file {prompt, chosen, rejected: [...]} (JSON or JSONL).")],
    catalog: CatalogOpt,
    out: Annotated[Path, typer.Option(help="Annotated output (JSON array).")],
    exposure_from: ExposureOpt = None,
    compat: CompatOpt = Compat.clean,
    clusters: ClustersOpt = "genres:3",
    cluster_from: ClusterFromOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of embedding clusters (item vectors and k-means).")] = 0,
    overwrite: OverwriteOpt = False,
) -> None:
    """Add interest clusters (by default the top-3 history genres) and per-candidate genres, exposure count and rank."""
    from negrec.data.goodreads import load_goodreads_catalog
    from negrec.data.io import write_json
    from negrec.data.outputs import claim_output
    from negrec.preference.annotate import annotate, read_candidates
    from negrec.sampling.clusters import parse_clusters

    parser = "seed" if compat == Compat.seed else "list"
    with user_errors():
        definition = parse_clusters(clusters)
        claim_output(out, overwrite=overwrite, inputs=[candidates, catalog, exposure_from, cluster_from])
        cat = load_goodreads_catalog(catalog)
        records = read_candidates(candidates)
        grouped = _clusters_catalog(definition, cat, cluster_from or catalog / "train.json", seed, parser)
        ann = annotate(
            records,
            grouped,
            exposure=_exposure(exposure_from, catalog, parser),
            parser=parser,
            top_k=definition.user_top,
            where=str(candidates),
        )
        _check_known(ann, cat, candidates)
        write_json(out, ann.records())
    typer.echo(
        f"annotated {len(ann)} records ({len(ann.candidates)} candidates; {ann.in_cluster_share:.1%} in the user's "
        f"interest cluster, {definition.spec}) → {out}"
    )


def _clusters_catalog(definition, catalog, histories_file: Path, seed: int, parser: str):
    """The catalog of a cluster definition; embedding clusters learn item vectors from a records file's histories."""
    from negrec.cf.item_vectors import clusters_catalog
    from negrec.preference.annotate import histories_of
    from negrec.sampling.clusters import history_matrix

    def histories():
        if not histories_file.is_file():
            raise DataError(
                f"{definition.spec} learns item vectors from histories: not found (pass --cluster-from)", path=histories_file
            )
        typer.echo(f"{definition.spec}: item vectors learned from the histories of {histories_file}")
        return history_matrix(histories_of(histories_file, parser), catalog)

    return clusters_catalog(definition, catalog, histories, seed)


@app.command("select")
def select_command(
    strategy: Annotated[
        str,
        typer.Option(
            help="clusterin_high, clusterin_low, clusterout_low, clusterout_high, low_exposure, "
            "high_exposure, balanced_popularity, clusterin_high_clusterout_low, "
            "clusterin_low_clusterout_low, or uniform[:K] (K uniform catalog titles per record, as CF's uniform[:K]; "
            "the old spelling random still reads)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output preference file.")],
    catalog: CatalogOpt,
    annotated: Annotated[Optional[Path], typer.Option(help="Annotated file (from `annotate`).")] = None,
    candidates: Annotated[Optional[Path], typer.Option(help="Candidates file (annotated on the fly).")] = None,
    exposure_from: ExposureOpt = None,
    seed: Annotated[int, typer.Option(help="Seed for balanced_popularity and uniform.")] = 0,
    n: Annotated[
        Optional[int], typer.Option(min=1, help="Deprecated: --strategy uniform:K gives K negatives per record.")
    ] = None,
    format: FormatOpt = Fmt.seed,
    compat: CompatOpt = Compat.clean,
    overwrite: OverwriteOpt = False,
) -> None:
    """Pick negatives with one strategy and write {prompt, chosen, rejected} records."""
    import numpy as np

    from negrec.preference.negatives import NEGATIVE_STRATEGIES, OLD_SPELLINGS, parse_negatives, random_records, strategy_records

    rng = np.random.default_rng(seed)
    with user_errors():  # an unknown name is refused below, with the closest known one
        known = strategy.partition(":")[0] in (*NEGATIVE_STRATEGIES, *OLD_SPELLINGS)
        name, count = parse_negatives(strategy) if known else (strategy, 1)
        if n is not None:
            if name != "uniform" or ":" in strategy:
                raise ValueError(f"--n applies to --strategy uniform; spell the count in the strategy: uniform:{n}")
            typer.echo(f"note: --n {n} is deprecated: --strategy uniform:{n}", err=True)
            count = n

    def pick(cat, ann, parser):
        if name == "uniform":
            rows = [{"instruction": i, "input": x, "chosen": c} for i, x, c in zip(ann.instructions, ann.inputs, ann.chosen)]
            return random_records(rows, cat, count, rng, parser=parser)
        return strategy_records(ann, name, rng=rng, empty_negatives=compat == Compat.seed)

    _write_picks(
        name,
        NEGATIVE_STRATEGIES,
        pick,
        out,
        format,
        catalog,
        annotated,
        candidates,
        exposure_from,
        compat,
        overwrite=overwrite,
    )


@app.command("selfplay")
def selfplay_command(
    records: Annotated[Path, typer.Option(help="Records {instruction, input, output} the predictions were made for.")],
    predictions: Annotated[Path, typer.Option(help="Predictions {prompt, prediction, ground_truth}, same order.")],
    catalog: CatalogOpt,
    out: Annotated[Path, typer.Option(help="Output preference file.")],
    format: FormatOpt = Fmt.seed,
    compat: CompatOpt = Compat.clean,
    overwrite: OverwriteOpt = False,
) -> None:
    """SPRec self-play: each record's own greedy prediction becomes its rejected answer."""
    from negrec.data.goodreads import load_goodreads_catalog, load_goodreads_records
    from negrec.data.io import read_records
    from negrec.data.outputs import claim_output
    from negrec.preference.negatives import write_preferences
    from negrec.preference.selfplay import selfplay_records

    with user_errors():
        claim_output(out, overwrite=overwrite, inputs=[records, predictions, catalog])
        cat = load_goodreads_catalog(catalog)
        recs = load_goodreads_records(records, cat).records
        preds, _ = read_records(predictions)
        rows, report = selfplay_records(recs, preds, cat, seed=compat == Compat.seed, where=str(predictions))
        write_preferences(out, rows, format.value)
    typer.echo(f"{report.summary()} → {out}")


@app.command("cf")
def cf_command(
    strategy: Annotated[str, typer.Option(help="[in_|out_](past|chosen)_(farthest|nearest), or global_farthest.")],
    embeddings: Annotated[Path, typer.Option(help="Item embeddings: .npy (rows = catalog ids) or .npz (embeddings, titles).")],
    catalog: CatalogOpt,
    out: Annotated[Path, typer.Option(help="Output preference file.")],
    annotated: Annotated[Optional[Path], typer.Option(help="Annotated file.")] = None,
    candidates: Annotated[Optional[Path], typer.Option(help="Candidates file (annotated on the fly).")] = None,
    exposure_from: ExposureOpt = None,
    format: FormatOpt = Fmt.seed,
    compat: CompatOpt = Compat.clean,
    overwrite: OverwriteOpt = False,
) -> None:
    """Negatives ranked by CF item-embedding distance to the history centroid or to the chosen item."""
    from negrec.preference.cf_negatives import CF_STRATEGIES, cf_strategy_records, load_item_embeddings

    def pick(cat, ann, parser):
        return cf_strategy_records(ann, cat, load_item_embeddings(embeddings, cat), strategy, parser=parser)

    _write_picks(
        strategy,
        CF_STRATEGIES,
        pick,
        out,
        format,
        catalog,
        annotated,
        candidates,
        exposure_from,
        compat,
        overwrite=overwrite,
        inputs=[embeddings],
    )
