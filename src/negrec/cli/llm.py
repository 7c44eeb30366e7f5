"""`negrec llm …`: the LLM-recommender stages (model, candidates, SFT/DPO/S-DPO/curriculum/self-play, predict, evaluate)."""

from __future__ import annotations

import contextlib
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from negrec.cli.common import (
    OverwriteOpt,
    command_group,
    console,
    log_line,
    print_llm_summary,
    progress_bar,
    settings_parameters,
    user_errors,
)
from negrec.data.outputs import writer_lock
from negrec.llm.logs import library_logs
from negrec.data.prompts import TEMPLATES

app = command_group("LLM recommenders: tiny model, candidates, training stages, predictions, evaluation.")


class GroundingName(str, Enum):
    seed_minilm_l3 = "seed-minilm-l3"
    minilm_l6 = "minilm-l6"
    exact = "exact"
    beams = "beams"


class ConventionName(str, Enum):
    seed_ns = "seed-ns"
    seed_ce = "seed-ce"
    clean = "clean"


class TitlesName(str, Enum):
    text = "text"
    tokens = "tokens"


# the choices are the templates negrec.data.prompts defines, so the CLI cannot drift from them
TemplateName = Enum("TemplateName", {name: name for name in TEMPLATES}, type=str)


ModelTemplateOpt = Annotated[
    Optional[TemplateName],
    typer.Option(help="Prompt template (default: the one the model was trained with, recorded in its negrec.json; else train)."),
]


def _model_and_template(model: Path, template: "TemplateName | None") -> tuple[Path, str]:
    """The model folder (a training run folder resolves to its final/ model) and the prompt template: the one the model
    was trained with unless --template is given, which must then agree with it."""
    from negrec.llm.models import SETTINGS_FILE, model_settings, resolve_model_dir

    folder = resolve_model_dir(model)
    recorded = model_settings(folder).get("template")
    if template is not None and recorded is not None and template.value != recorded:
        raise ValueError(
            f"--template {template.value} contradicts the template the model was trained with ({recorded}, "
            f"recorded in {folder / SETTINGS_FILE}); leave --template out to use it"
        )
    return folder, template.value if template is not None else recorded or "train"


@app.command("init-tiny")
def init_tiny_command(
    data: Annotated[Path, typer.Option(help="Goodreads-layout folder: id2name.json (+ name2genre.json) and records files.")],
    out: Annotated[Path, typer.Option(help="Model directory to write (loadable by path like any Hugging Face model).")],
    records: Annotated[
        Optional[Path], typer.Option(help="Records whose prompts the tokenizer learns (default: <data>/train.json).")
    ] = None,
    vocab_size: Annotated[int, typer.Option(help="BPE vocabulary size.")] = 4096,
    hidden_size: Annotated[int, typer.Option(help="Hidden size.")] = 256,
    intermediate_size: Annotated[int, typer.Option(help="MLP size.")] = 688,
    layers: Annotated[int, typer.Option(help="Decoder layers.")] = 4,
    heads: Annotated[int, typer.Option(help="Attention heads.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the weights.")] = 0,
    titles: Annotated[
        TitlesName,
        typer.Option(
            help="tokens: one vocabulary entry per catalog title (learns on a CPU); text: titles spelled in BPE pieces."
        ),
    ] = TitlesName.tokens,
    overwrite: OverwriteOpt = False,
) -> None:
    """Train a byte-level BPE tokenizer on the dataset's text and write a small Llama-style model."""
    from negrec.data.goodreads import load_goodreads_catalog
    from negrec.data.io import read_records
    from negrec.data.outputs import claim_output
    from negrec.llm.tiny import TINY_KIND, TinyConfig, init_tiny

    with user_errors():
        claim_output(out, overwrite=overwrite, inputs=[data, records], kind=TINY_KIND)
        catalog = load_goodreads_catalog(data)
        recs, _ = read_records(records or data / "train.json", SFT_FIELDS)
        config = TinyConfig(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            intermediate_size=intermediate_size,
            num_layers=layers,
            num_heads=heads,
            seed=seed,
            titles=titles.value,
        )
        with library_logs(out.with_name(out.name + ".log")):  # transformers' "Writing model shards" bar among them
            init_tiny(recs, catalog.titles, out, config)
    console.print(f"tiny model → {out}")


class MethodName(str, Enum):
    beam = "beam"
    diverse = "diverse"
    sample = "sample"


class ModeName(str, Enum):
    greedy = "greedy"
    beams = "beams"


ModelOpt = Annotated[Path, typer.Option(help="Local model directory (e.g. from `negrec llm init-tiny`).")]
CatalogOpt = Annotated[Path, typer.Option(help="Catalog folder (id2name.json, name2genre.json).")]
RecordsOpt = Annotated[Path, typer.Option(help="Records {instruction, input, output} (JSON or JSONL).")]
WorkOpt = Annotated[Optional[Path], typer.Option(help="Chunk folder (default: <out>.chunks); reruns resume from it.")]
ShardOpt = Annotated[str, typer.Option(help="i/n: this worker's share of the chunks.")]
ChunkOpt = Annotated[int, typer.Option(min=1, help="Records per chunk file.")]
LookOpt = Annotated[Optional[int], typer.Option(min=1, help="Only the first N records (a quick look before the whole file).")]
ChunksOverwriteOpt = Annotated[
    bool,
    typer.Option(
        help="Replace an existing output, and delete chunks made from other records, "
        "model or options and start over (without it both are refused)."
    ),
]


def _finish_training(out: Path, what: str, final: Path) -> None:
    """curve.png beside every training log of the run folder and the closing line (steps, training time, why it
    stopped, where the model is), once: by rank 0 under a multi-process launch."""
    from negrec.launch import is_main_process
    from negrec.llm.models import model_settings
    from negrec.report.plots import curves_from_logs

    if is_main_process():
        curves_from_logs(out)
        got = model_settings(final).get("result")
        done = f" ({got['steps']} steps, {got['training_seconds']:.1f} s of training, stopped by {got['stopped']})" if got else ""
        console.print(f"{what} → {final}{done}", soft_wrap=True, markup=False, highlight=False)


def _run_log(out: Path) -> Path:
    """The run's library log; the other processes of a multi-process launch each keep their own."""
    from negrec.launch import launch_rank

    launched = launch_rank()
    return out / ("run.log" if launched is None or launched[0] == 0 else f"run.rank{launched[0]}.log")


def _chunked(
    *,
    model: Path,
    catalog: Path,
    records: Path,
    out: Path,
    work_dir: Path | None,
    shard: str,
    chunk_size: int,
    overwrite: bool,
    make_fn,
    label: str,
    options: dict,
    limit: int | None = None,
) -> None:
    """Shared body of `candidates` and `predict`: load, run this shard's missing chunks (made under the same records,
    model, catalog and `options`), merge when complete; `limit`: only the first records (a quick look)."""
    from negrec.data.goodreads import load_goodreads_catalog
    from negrec.data.io import folder_signature, read_records
    from negrec.llm.models import load_model
    from negrec.llm.pipeline import check_title_count, check_title_tokens
    from negrec.data.outputs import claim_output
    from negrec.llm.runs import finish_share, run_chunks, this_share

    with user_errors():
        share = this_share(shard)
        claim_output(out, overwrite=overwrite, inputs=[model, catalog, records, work_dir])
        cat = load_goodreads_catalog(catalog)
        check_title_tokens(model, cat)
        count = "n" if "n" in options else "k"
        check_title_count(options[count], cat, f"--{count}")
        recs, _ = read_records(records, SFT_FIELDS)
        recs = recs if limit is None else recs[:limit]
        with library_logs(out.with_name(out.name + ".log")):  # opened once the cheap checks have passed
            lm, tok = load_model(model)
            work = work_dir or out.with_name(out.name + ".chunks")
            settings = {"stage": label, **options, "model": folder_signature(model), "titles": list(cat.titles)}
            settings["limit"] = limit  # resumed chunks must come from the same records
            run_chunks(
                recs,
                work,
                make_fn(lm, tok, cat),
                settings=settings,
                chunk_size=chunk_size,
                shard=share.part,
                overwrite=overwrite,
                progress=progress_bar(label),
                follower=share.follower,
            )
            merged = finish_share(work, out, share)
    i, n = share.part
    if share.follower:
        console.print(f"process {i}/{n}: chunks done; rank 0 merges them into {out}")
    elif merged is None:
        console.print(f"shard {i}/{n} done; not merged yet: other shards' chunks are missing in {work}")
    else:
        console.print(f"{merged} records → {out}")
        if label == "predicting":
            from negrec.llm.evaluate import answers_warning, read_predictions

            warning = answers_warning(read_predictions(out), cat)
            if warning:
                console.print(warning, style="yellow", highlight=False)


@app.command("candidates")
def candidates_command(
    model: ModelOpt,
    catalog: CatalogOpt,
    records: RecordsOpt,
    out: Annotated[Path, typer.Option(help="Candidates file {prompt, chosen, rejected: [...]}.")],
    method: Annotated[
        MethodName, typer.Option(help="beam, diverse (group beam search) or sample (top-k with the seed's resampling).")
    ] = MethodName.diverse,
    n: Annotated[int, typer.Option(min=1, help="Titles per prompt.")] = 10,
    groups: Annotated[int, typer.Option(min=1, help="Diverse: beam groups (2 beams each).")] = 10,
    penalty: Annotated[float, typer.Option(help="Diverse: diversity penalty.")] = 1.0,
    constrained: Annotated[bool, typer.Option(help="Keep every title inside the catalog (trie).")] = True,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts per generate call.")] = 8,
    chunk_size: ChunkOpt = 100,
    shard: ShardOpt = "0/1",
    work_dir: WorkOpt = None,
    overwrite: ChunksOverwriteOpt = False,
    seed: Annotated[int, typer.Option(help="Seed of the sampling method.")] = 0,
    template: ModelTemplateOpt = None,
    limit: LookOpt = None,
) -> None:
    """Generate negative candidates for every record (chunked, resumable, shardable)."""
    from dataclasses import asdict

    from negrec.llm.pipeline import CandidateSettings, build_trie, candidates_fn

    with user_errors():
        model, prompt = _model_and_template(model, template)
        settings = CandidateSettings(
            method=method.value, n=n, groups=groups, diversity_penalty=penalty, batch_size=batch_size, seed=seed, template=prompt
        )
    _chunked(
        model=model,
        catalog=catalog,
        records=records,
        out=out,
        work_dir=work_dir,
        shard=shard,
        chunk_size=chunk_size,
        overwrite=overwrite,
        make_fn=lambda lm, tok, cat: candidates_fn(lm, tok, cat, settings, build_trie(tok, cat, prompt) if constrained else None),
        label="generating candidates",
        options={**asdict(settings), "constrained": constrained},
        limit=limit,
    )


@app.command("predict")
def predict_command(
    model: ModelOpt,
    catalog: CatalogOpt,
    records: RecordsOpt,
    out: Annotated[Path, typer.Option(help="Predictions {prompt, prediction, ground_truth[, beams]}.")],
    mode: Annotated[
        ModeName, typer.Option(help="greedy (free text, the seed's setting) or beams (K constrained titles).")
    ] = ModeName.greedy,
    k: Annotated[int, typer.Option(min=1, help="beams: titles per prompt.")] = 10,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Generation length.")] = 50,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts per generate call.")] = 8,
    chunk_size: ChunkOpt = 100,
    shard: ShardOpt = "0/1",
    work_dir: WorkOpt = None,
    overwrite: ChunksOverwriteOpt = False,
    template: ModelTemplateOpt = None,
    exclude_history: Annotated[bool, typer.Option(help="beams: leave out titles the user already has.")] = False,
    limit: LookOpt = None,
) -> None:
    """Predict the next item for every record (chunked, resumable, shardable)."""
    from negrec.llm.pipeline import build_trie, predict_fn

    with user_errors():
        model, prompt = _model_and_template(model, template)
    options = {
        "mode": mode.value,
        "k": k,
        "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        "template": prompt,
        "exclude_history": exclude_history,
    }
    _chunked(
        model=model,
        catalog=catalog,
        records=records,
        out=out,
        work_dir=work_dir,
        shard=shard,
        chunk_size=chunk_size,
        overwrite=overwrite,
        make_fn=lambda lm, tok, cat: predict_fn(
            lm, tok, trie=build_trie(tok, cat, prompt) if mode == ModeName.beams else None, catalog=cat, **options
        ),
        label="predicting",
        options=options,
        limit=limit,
    )


@app.command("merge")
def merge_command(
    work_dir: Annotated[Path, typer.Option(help="Chunk folder of a candidates/predict run.")],
    out: Annotated[Path, typer.Option(help="Merged file (JSON array; JSONL when the name ends in .jsonl).")],
) -> None:
    """Join the chunk files of (sharded) runs into one file, in record order."""
    from negrec.llm.runs import merge_chunks

    with user_errors():
        n = merge_chunks(work_dir, out)
    console.print(f"{n} records → {out}")


OutDirOpt = Annotated[Path, typer.Option(help="Run folder: final/, checkpoints, log.jsonl, curve.png, config.json.")]
ResumeOpt = Annotated[
    bool,
    typer.Option(help="Continue the run in --out; refused, naming what differs, unless its options and inputs are the same."),
]
RunOverwriteOpt = Annotated[
    bool,
    typer.Option(
        help="Start over in --out (a folder negrec's training wrote); the old run is deleted once the new one is complete."
    ),
]
LimitOpt = Annotated[Optional[int], typer.Option(min=1, help="Train on the first N records only.")]


@contextmanager
def _training_run(out: Path, resume: bool, overwrite: bool, inputs: list):
    """The frame of a training command: user errors as one line, a writer lock, the run folder claimed (a rerun needs
    --resume or --overwrite), library logs in the run's log."""
    from negrec.data.outputs import replaceable_run
    from negrec.llm.stage_runs import KIND

    with (
        user_errors(),
        writer_lock(out),
        replaceable_run(out, resume=resume, overwrite=overwrite, kind=KIND, inputs=inputs),
        library_logs(_run_log(out)),
    ):
        yield


SFT_FIELDS, PAIR_FIELDS = ("instruction", "input", "output"), ("prompt", "chosen")


def _input_option(spec):
    """A method input as a typer option."""
    name = "--" + (spec.option or spec.name.replace("_", "-"))
    if spec.kind == "stages":
        return Annotated[list[str], typer.Option(name, help=spec.help)], ...
    if spec.required:
        return Annotated[Path, typer.Option(name, help=spec.help)], ...
    return Annotated[Optional[Path], typer.Option(name, help=spec.help)], None


def _load_input(spec, value, limit: int | None):
    """A method input as its train function takes it: records loaded (the first `limit`), a catalog loaded, stages
    parsed as (kind, path)."""
    from negrec.data.goodreads import load_goodreads_catalog
    from negrec.data.io import read_records

    if spec.kind in ("records", "pairs"):
        return read_records(value, SFT_FIELDS if spec.kind == "records" else PAIR_FIELDS)[0][:limit]
    if spec.kind == "catalog":
        return load_goodreads_catalog(value)
    if spec.kind == "stages":
        from negrec.experiments.methods.curriculum import stage_kinds

        stages = [(kind, Path(path)) for kind, _, path in (v.partition(":") for v in value)]
        bad = [v for v, (kind, path) in zip(value, stages) if kind not in stage_kinds() or not path.name]
        if bad:
            spelled = " or ".join(f"{k}:FILE" for k in stage_kinds())
            raise ValueError(f"--{spec.option or spec.name} must be {spelled}, got {bad[0]!r}")
        return stages
    return value


def _input_paths(spec, value) -> list:
    """The files an input names (what the run folder must not be)."""
    if spec.kind == "stages":
        return [Path(v.partition(":")[2]) for v in value]
    return [value]


def method_command(m):
    """`negrec llm <kind>` for a training method: --model, its inputs, --out, one option per settings field (help and
    default from the settings class and the stage's defaults), --limit-records where it reads records, --resume and
    --overwrite. Generated, so a new method's module is all a command needs."""
    import inspect
    from dataclasses import fields

    defaults = m.settings()
    params = [inspect.Parameter("model", inspect.Parameter.KEYWORD_ONLY, annotation=ModelOpt)]
    for spec in m.inputs:
        annotation, default = _input_option(spec)
        params.append(inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default))
    params.append(inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=OutDirOpt))
    settings_fields = fields(m.config)
    params += settings_parameters(m.config, defaults=defaults)
    if any(spec.kind in ("records", "pairs") for spec in m.inputs):
        params.append(inspect.Parameter("limit_records", inspect.Parameter.KEYWORD_ONLY, annotation=LimitOpt, default=None))
    for name, annotation in (("resume", ResumeOpt), ("overwrite", RunOverwriteOpt)):
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=False))

    def command(**options) -> None:
        inputs = [options["model"], *(p for spec in m.inputs for p in _input_paths(spec, options[spec.name]))]
        with _training_run(options["out"], options["resume"], options["overwrite"], inputs):
            values = {f.name: options[f.name] for f in settings_fields}
            settings = m.config(**{k: v.value if isinstance(v, Enum) else v for k, v in values.items()})
            loaded = {spec.name: _load_input(spec, options[spec.name], options.get("limit_records")) for spec in m.inputs}
            final = m.train(options["model"], options["out"], settings, **loaded)
        _finish_training(options["out"], f"{m.title} model", final)

    command.__signature__ = inspect.Signature(params)
    command.__name__ = f"{m.kind}_command"
    command.__doc__ = m.summary
    return command


def _register_methods() -> None:
    """One command per training method of `negrec.experiments.methods`."""
    from negrec.experiments.methods import registry

    for m in registry().values():
        if m.command:
            app.command(m.kind)(method_command(m))


_register_methods()


@app.command("run")
def run_command(
    ctx: typer.Context,
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML (see recipes/).")],
    out: Annotated[Path, typer.Option(help="Run folder (a new one, or an earlier run of this recipe with --resume).")],
    data_dir: Annotated[
        Optional[Path], typer.Option(help="Data root for recipes naming a dataset (default: $NEGREC_DATA_DIR).")
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            help="Run the stages on this many processes (accelerate launch: one per GPU; without GPUs they share the CPU cores).",
        ),
    ] = 1,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run in --out, skipping its finished stages (refused when the recipe or the data files differ)."
        ),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(help="Start over in --out (a recipe run folder only); the old run is deleted once the new one is complete."),
    ] = False,
) -> None:
    """Run a whole recipe: model → SFT → candidates → negatives → training → predict → evaluate → report.
    With --processes N (or under `accelerate launch … -m negrec llm run`) its stages run on every process
    (docs/scaling.md)."""
    from negrec.data.outputs import replaceable_run
    from negrec.experiments.llm_recipe import Runner
    from negrec.experiments.recipes import RUN_KIND, load_recipe
    from negrec.launch import is_main_process, launch_rank, relaunch

    with user_errors():
        parsed = load_recipe(recipe)  # checked before the lock or any work
        if processes > 1:
            with replaceable_run(out, resume=resume, overwrite=overwrite, kind=RUN_KIND):  # refused here, not in N processes
                root = ctx.find_root().params
                command = [
                    "llm",
                    "run",
                    str(recipe),
                    "--out",
                    str(out),
                    *(["--data-dir", str(data_dir)] if data_dir else []),
                    "--resume",
                ]  # the processes find the folder this process claimed
                log = out.with_name(out.name + ".launch.log")  # beside: the processes claim --out themselves
                status = relaunch(
                    command, processes, threads=root.get("threads"), verbose=bool(root.get("verbose")), launcher_log=log
                )
                if status:
                    console.print(
                        f"the {processes} processes stopped (exit {status}); the launcher's report is in {log}",
                        markup=False,
                        soft_wrap=True,
                    )
                    raise typer.Exit(status)
            raise typer.Exit(0)
        claimed = launch_rank() is None or is_main_process()  # under a launch, rank 0 claims; the others follow it
        with (
            writer_lock(out),
            replaceable_run(out, resume=resume, overwrite=overwrite, kind=RUN_KIND) if claimed else contextlib.nullcontext(),
        ):
            summary = Runner(parsed, out, data_dir, log=log_line).run()
    if is_main_process():
        print_llm_summary(summary, f"{recipe.name} → {out}")
        console.print(f"report: {out / 'report' / 'metrics.md'}")


def _evaluate_choices(records: list[dict], catalog, predictions: Path, out: Path) -> None:
    """`llm evaluate` of a candidate-protocol file: HR@1 and ValidRatio with their CIs."""
    from negrec.data.io import write_json
    from negrec.llm.evaluate import evaluate_choices

    result = evaluate_choices(records, catalog)
    metrics = result.summary()
    write_json(
        out, {"predictions": str(predictions), "protocol": "candidates", "n": len(records), "scored": result.n_valid, **metrics}
    )
    write_json(out.with_name(out.stem + ".per_user.json"), {"ci": result.with_ci(), "per_user": result.per_user()}, indent=None)
    for key, value in metrics.items():
        console.print(f"{key:>14} {value:.6f}")


@app.command("evaluate")
def evaluate_command(
    predictions: Annotated[Path, typer.Option(help="Predictions {prompt, prediction, ground_truth[, beams]} (JSON or JSONL).")],
    catalog: Annotated[Path, typer.Option(help="Catalog folder (id2name.json, name2genre.json, genre_dict.json).")],
    out: Annotated[Path, typer.Option(help="Metrics JSON; per-user vectors and CIs go to <out stem>.per_user.json.")],
    k: Annotated[list[int], typer.Option("--k", min=1, help="Cut-offs (repeatable).")] = [5, 10],
    grounding: Annotated[
        Optional[GroundingName],
        typer.Option(
            help="seed-minilm-l3 (the seed's encoder, offline ONNX), minilm-l6, exact, beams (default: beams when the "
            "file holds beams — `llm predict --mode beams` — else seed-minilm-l3)."
        ),
    ] = None,
    conventions: Annotated[
        ConventionName,
        typer.Option(help="clean (the default everywhere), or the seed's evaluators: seed-ns (E-NS2), seed-ce (E-CE)."),
    ] = ConventionName.clean,
    cache_dir: Annotated[
        Optional[Path], typer.Option(help="Where catalog title embeddings are cached (default ~/.cache/negrec).")
    ] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Ground predictions to catalog items and compute the seed's metrics (NDCG, HR, Diversity, DivRatio,
    DGU, MGU, ORRatio, NotInRatio) plus the shared ones; a file whose records hold `candidates` (the protocol of
    LLaRA and S-DPO) gets HR@1 and ValidRatio."""
    from negrec.data.goodreads import load_goodreads_catalog
    from negrec.data.io import write_json
    from negrec.data.outputs import claim_output
    from negrec.llm.evaluate import evaluate_predictions, read_predictions

    with user_errors():
        for path in (out, out.with_name(out.stem + ".per_user.json")):
            claim_output(path, overwrite=overwrite, inputs=[predictions, catalog, cache_dir])
        cat = load_goodreads_catalog(catalog)
        records = read_predictions(predictions)
        if records and all("candidates" in r for r in records):
            _evaluate_choices(records, cat, predictions, out)
            return
        if grounding is None:  # the default follows what the file holds: grounding one answer would drop the beams
            grounding = GroundingName.beams if records and all("beams" in r for r in records) else GroundingName.seed_minilm_l3
        result = evaluate_predictions(
            records,
            cat,
            ks=k,
            grounding=grounding.value,
            conventions=conventions.value,
            cache_dir=cache_dir,
        )
        write_json(
            out,
            {
                "predictions": str(predictions),
                "grounding": grounding.value,
                "conventions": conventions.value,
                "n": len(result.names),
                "scored": result.scored,
                "unscored": len(result.unknown_truths),
                **result.metrics,
            },
        )
        side = out.with_name(out.stem + ".per_user.json")
        write_json(side, {"ci": result.evaluation.with_ci(), "per_user": result.evaluation.per_user()}, indent=None)
    for key, value in result.metrics.items():
        if not isinstance(value, dict):
            console.print(f"{key:>14} {value:.6f}")
    if result.unknown_truths:
        console.print(
            f"warning: {len(result.unknown_truths)} of {len(result.names)} ground truths are no catalog title "
            f"(first: {result.unknown_truths[0]!r}) and are not scored: is --catalog the predictions' catalog?",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"{result.scored} of {len(result.names)} users scored → {out} (+ {side.name})", markup=False, soft_wrap=True)
