"""`negrec llm …`: LLM-recommender stages (evaluation here; models, decoding and training come later)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from negrec.cli_common import console, user_errors

app = typer.Typer(help="LLM recommenders: evaluate predictions (more stages arrive with later issues).", no_args_is_help=True)


class GroundingName(str, Enum):
    seed_minilm_l3 = "seed-minilm-l3"
    minilm_l6 = "minilm-l6"
    exact = "exact"
    beams = "beams"


class ConventionName(str, Enum):
    seed_ns = "seed-ns"
    seed_ce = "seed-ce"
    clean = "clean"


@app.command("init-tiny")
def init_tiny_command(
    data: Annotated[Path, typer.Option(help="Goodreads-layout folder: id2name.json (+ name2genre.json) and records files.")],
    out: Annotated[Path, typer.Option(help="Model directory to write (loadable by path like any Hugging Face model).")],
    records: Annotated[Optional[Path], typer.Option(help="Records whose prompts the tokenizer learns (default: <data>/train.json).")] = None,
    vocab_size: Annotated[int, typer.Option(help="BPE vocabulary size.")] = 4096,
    hidden_size: Annotated[int, typer.Option(help="Hidden size.")] = 256,
    intermediate_size: Annotated[int, typer.Option(help="MLP size.")] = 688,
    layers: Annotated[int, typer.Option(help="Decoder layers.")] = 4,
    heads: Annotated[int, typer.Option(help="Attention heads.")] = 4,
    seed: Annotated[int, typer.Option(help="Seed of the weights.")] = 0,
) -> None:
    """Train a byte-level BPE tokenizer on the dataset's text and write a small Llama-style model."""
    from negrec.data.goodreads import load_goodreads_catalog
    from negrec.data.io import read_records
    from negrec.llm.tiny import TinyConfig, init_tiny

    with user_errors():
        catalog = load_goodreads_catalog(data)
        recs, _ = read_records(records or data / "train.json")
        config = TinyConfig(vocab_size=vocab_size, hidden_size=hidden_size, intermediate_size=intermediate_size,
                            num_layers=layers, num_heads=heads, seed=seed)
        init_tiny(recs, catalog.titles, out, config)
    console.print(f"tiny model → {out}")


@app.command("evaluate")
def evaluate_command(
    predictions: Annotated[Path, typer.Option(help="Predictions {prompt, prediction, ground_truth[, beams]} (JSON or JSONL).")],
    catalog: Annotated[Path, typer.Option(help="Catalog folder (id2name.json, name2genre.json, genre_dict.json).")],
    out: Annotated[Path, typer.Option(help="Metrics JSON; per-user vectors and CIs go to <out stem>.per_user.json.")],
    k: Annotated[list[int], typer.Option("--k", help="Cut-offs (repeatable).")] = [5, 10],
    grounding: Annotated[GroundingName, typer.Option(help="seed-minilm-l3 (the seed's encoder, offline ONNX), minilm-l6, exact, beams.")] = GroundingName.seed_minilm_l3,
    conventions: Annotated[ConventionName, typer.Option(help="seed-ns (evaluator E-NS2), seed-ce (E-CE) or clean.")] = ConventionName.seed_ns,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Where catalog title embeddings are cached (default ~/.cache/negrec).")] = None,
) -> None:
    """Ground predictions to catalog items and compute the seed's metrics (NDCG, HR, Diversity, DivRatio,
    DGU, MGU, ORRatio, NotInRatio) plus the shared ones."""
    from negrec.data.goodreads import load_goodreads_catalog
    from negrec.data.io import write_json
    from negrec.llm.evaluate import evaluate_predictions, read_predictions

    with user_errors():
        cat = load_goodreads_catalog(catalog)
        result = evaluate_predictions(read_predictions(predictions), cat, ks=k, grounding=grounding.value,
                                      conventions=conventions.value, cache_dir=cache_dir)
        write_json(out, {"predictions": str(predictions), "grounding": grounding.value, "conventions": conventions.value,
                         "n": len(result.names), **result.metrics})
        side = out.with_name(out.stem + ".per_user.json")
        write_json(side, {"ci": result.evaluation.with_ci(), "per_user": result.evaluation.per_user()}, indent=None)
    for key, value in result.metrics.items():
        if not isinstance(value, dict):
            console.print(f"{key:>14} {value:.6f}")
    console.print(f"→ {out} (+ {side.name})")
