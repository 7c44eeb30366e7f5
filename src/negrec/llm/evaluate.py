"""Evaluate LLM predictions exactly as the seed does (docs/seed-method.md §3), or with clean conventions.

Each prediction is reduced to an item name, grounded to K catalog items (nearest titles by sentence
embedding, exact title match, or the constrained beams), and scored with the shared metrics; the genre
baseline comes from the history titles in each record's prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.io import read_records
from negrec.data.sequences import Sequences, targets_to_csr
from negrec.data.titles import parse_target, parse_title_list
from negrec.errors import DataError
from negrec.eval.conventions import get_conventions
from negrec.eval.evaluate import Evaluation, evaluate
from negrec.eval.metrics import MetricResult
from negrec.eval.grounding import Encoder, catalog_embeddings, extract_name, nearest_items
from negrec.data.prompts import parse_prompt

Grounding = Literal["seed-minilm-l3", "minilm-l6", "exact", "beams"]
_SEED_HISTORY = re.compile(r'"([^"]+)"')  # the evaluators' history regex over the whole prompt


@dataclass(eq=False)
class LLMEvaluation:
    """Metrics (seed key names), the underlying Evaluation (per-user vectors) and what was grounded."""

    metrics: dict[str, float]
    evaluation: Evaluation
    names: list[str]
    recommendations: np.ndarray
    scored: int  # records whose ground truth is a catalog title (the others cannot be scored)
    unknown_truths: list[str]


def read_predictions(path: str | Path) -> list[dict]:
    """Prediction records `{prompt, prediction, ground_truth[, beams]}`, validated field by field."""
    return read_records(path, ("prompt", "prediction", "ground_truth"))[0]


def make_encoder(grounding: Grounding) -> Encoder:
    """The sentence encoder of a grounding mode (loaded offline from installed packages)."""
    from negrec.eval.grounding import SeedMiniLML3, SentenceTransformerEncoder

    return SeedMiniLML3() if grounding == "seed-minilm-l3" else SentenceTransformerEncoder()


def _ground(
    records: Sequence[dict],
    names: list[str],
    catalog: Catalog,
    grounding: Grounding,
    k: int,
    encoder: Encoder | None,
    cache_dir: str | Path | None,
) -> np.ndarray:
    if grounding in ("seed-minilm-l3", "minilm-l6"):
        encoder = encoder or make_encoder(grounding)
        return nearest_items(encoder.encode(names), catalog_embeddings(catalog, encoder, cache_dir), k)
    recs = np.full((len(names), k), -1, dtype=np.int64)
    if grounding == "exact":
        recs[:, 0] = catalog.lookup_many(names, normalised=True)
        return recs
    for r, rec in enumerate(records):
        beams = rec.get("beams")
        if not isinstance(beams, list):
            raise DataError("beams grounding needs a list of titles", record=r, field="beams")
        ids = [i for i in catalog.lookup_many([parse_target(b) for b in beams], normalised=True).tolist() if i >= 0]
        ids = list(dict.fromkeys(ids))[:k]
        recs[r, : len(ids)] = ids
    return recs


def _histories(records: Sequence[dict], catalog: Catalog, seed_regex: bool) -> Sequences:
    lists = []
    for k, rec in enumerate(records):
        if seed_regex:
            lists.append(_SEED_HISTORY.findall(rec["prompt"]))
        else:
            lists.append(parse_title_list(parse_prompt(rec["prompt"], record=k)[1]))
    ids = [catalog.lookup_many(titles).tolist() for titles in lists]
    return Sequences.from_lists(ids, [-1] * len(ids))


def evaluate_predictions(
    records: Sequence[dict],
    catalog: Catalog,
    *,
    ks: Sequence[int] = (5, 10),
    grounding: Grounding = "seed-minilm-l3",
    conventions: str = "seed-ns",
    encoder: Encoder | None = None,
    cache_dir: str | Path | None = None,
) -> LLMEvaluation:
    """Ground every prediction and compute NDCG, HR, Diversity, DivRatio, DGU, MGU, ORRatio at each K, the
    not-in-catalog ratio and the other shared metrics. `conventions`: seed-ns (E-NS2), seed-ce (E-CE), clean."""
    get_conventions(conventions)
    catalog.require_genres("LLM evaluation")
    seed = conventions in ("seed-ns", "seed-ce")
    names = [extract_name(r["prediction"], conventions) if seed else clean_name(r["prediction"], catalog) for r in records]
    ks = sorted(set(int(k) for k in ks))
    if max(ks) > catalog.n_items:
        raise ValueError(f"--k {max(ks)} is more than the {catalog.n_items} titles in the catalog")
    recs = _ground(records, names, catalog, grounding, max(ks), encoder, cache_dir)
    # the seed strips every outer quote and space (a title ending in a quote is then never found); clean conventions
    # take the ground truth as written, else without one pair of outer quotes
    targets = (
        catalog.lookup_many([r["ground_truth"].strip().strip('"') for r in records])
        if seed
        else np.array([_title_id(r["ground_truth"], catalog) for r in records], dtype=np.int64)
    )
    history = _histories(records, catalog, seed_regex=conventions != "clean").history_matrix(catalog.n_items)
    ev = evaluate(
        recs, targets_to_csr(targets, catalog.n_items), ks=ks, conventions=conventions, catalog=catalog, history=history
    )
    # not in catalog: the extracted name is no exact catalog title ("NAN" included), over all N records
    not_in = (catalog.lookup_many(names) < 0).astype(np.float64)
    ev.metrics["NotInRatio"] = MetricResult(float(not_in.mean()) if names else 0.0, not_in)
    metrics = ev.summary()
    for key, gaps in ev.genre_gaps.items():
        metrics[f"Dis_genre{key}"] = gaps
    unknown = [r["ground_truth"] for r, t in zip(records, targets.tolist()) if t < 0]
    return LLMEvaluation(metrics, ev, names, recs, len(records) - len(unknown), unknown)


def evaluate_choices(records: Sequence[dict], catalog: Catalog) -> Evaluation:
    """HR@1 and ValidRatio of candidate-protocol predictions (`negrec.eval.choice`): each record's `candidates` (catalog
    titles, the target among them) and its answer, `prediction` — a constrained choice (`llm run`) or free text, which is
    valid when it is exactly one of the candidates' titles (quotes and surrounding space aside), as LLaRA counts it."""
    from negrec.eval.choice import choice_evaluation

    width = max((len(r["candidates"]) for r in records if isinstance(r.get("candidates"), list)), default=1)
    ids = np.full((len(records), width), -1, dtype=np.int64)
    for r, rec in enumerate(records):
        if not isinstance(rec.get("candidates"), list) or not all(isinstance(t, str) for t in rec["candidates"]):
            raise DataError("the candidate protocol needs a list of candidate titles", record=r, field="candidates")
        ids[r, : len(rec["candidates"])] = catalog.lookup_many(rec["candidates"])
    answers = np.array([_title_id(str(rec["prediction"]), catalog) for rec in records], dtype=np.int64)
    targets = np.array([_title_id(rec["ground_truth"], catalog) for rec in records], dtype=np.int64)
    return choice_evaluation(answers, ids, targets)


def _title_id(text: str, catalog: Catalog) -> int:
    """The catalog item a title names: as written, else without surrounding whitespace and one pair of quotes."""
    found = catalog.lookup(text)
    return found if found >= 0 else catalog.lookup(parse_target(text))


def answer_counts(records: list[dict], catalog: Catalog) -> tuple[int, int]:
    """(empty answers, answers that name no catalog title) among predictions — a model that answers nothing should
    not pass unnoticed."""
    answers = [str(r.get("prediction", "")) for r in records]
    empty = sum(not a.strip() for a in answers)
    unknown = sum(bool(a.strip()) and catalog.lookup(clean_name(a, catalog), normalised=True) < 0 for a in answers)
    return empty, unknown


def answers_warning(records: list[dict], catalog: Catalog) -> str | None:
    """One line on empty and off-catalogue answers, or None when every answer names a catalog title."""
    empty, unknown = answer_counts(records, catalog)
    n = len(records)
    parts = []
    if empty:
        parts.append(f"{empty} of {n} answers are empty")
    if unknown:
        parts.append(f"{unknown} of {n} name no catalog title (grounding maps them to the nearest title)")
    if not parts:
        return None
    hint = " — the model answers nothing: train it longer or check the prompt template" if empty == n else ""
    return "warning: " + "; ".join(parts) + hint


def clean_name(prediction: str, catalog: Catalog) -> str:
    """The item name a prediction states, under the clean conventions: a prediction that opens with a quote names the
    longest catalog title that it quotes whole (titles may hold quotes and `", "`), else `extract_name`'s clean rule."""
    text = prediction.strip()
    if text.startswith('"'):
        closing = [q for q in range(len(text) - 1, 0, -1) if text[q] == '"']
        for q in closing:
            if catalog.lookup(text[1:q]) >= 0:
                return text[1:q]
    return extract_name(prediction, "clean")
