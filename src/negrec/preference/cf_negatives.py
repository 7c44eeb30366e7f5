"""Negatives scored with collaborative-filtering item embeddings (docs/seed-method.md §2.14).

Distances: dp = ‖e_c − mean(e_history)‖₂ (from the history centroid), dc = ‖e_c − e_chosen‖₂ (from the
chosen item). Strategies over a record's candidates: `{scope}{ref}_{direction}` with scope '' / 'in_' /
'out_' (all, in-cluster, out-of-cluster candidates; an empty restricted set falls back to all),
ref 'past' (dp) or 'chosen' (dc), direction 'farthest'/'nearest'. Candidates without an embedding are
never picked. `global_farthest` ignores the candidates: over the whole catalog minus the history, the item
whose nearest history item is farthest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.titles import TitleParser, parse_target, parse_title_list, quote
from negrec.errors import DataError
from negrec.preference.annotate import Annotated, candidate_name
from negrec.preference.negatives import SelectionReport
from negrec.data.prompts import render
from negrec.sampling.strategies import segment_best

CF_STRATEGIES = tuple(
    f"{scope}{ref}_{direction}"
    for scope in ("", "in_", "out_")
    for ref in ("past", "chosen")
    for direction in ("farthest", "nearest")
) + ("global_farthest",)


def load_item_embeddings(path: str | Path, catalog: Catalog) -> np.ndarray:
    """Item embeddings aligned with the catalog: `.npy` with one row per item, or `.npz` with `embeddings`
    and `titles` (rows are matched by title; catalog items without a row get NaN)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    if path.suffix == ".npz":
        data = np.load(path, allow_pickle=False)
        for key in ("embeddings", "titles"):
            if key not in data:
                raise DataError("missing array", path=path, field=key)
        emb, names = data["embeddings"], data["titles"].tolist()
        out = np.full((catalog.n_items, emb.shape[1]), np.nan)
        rows = catalog.lookup_many(names)
        out[rows[rows >= 0]] = emb[rows >= 0]
        return out
    emb = np.load(path, allow_pickle=False)
    if emb.ndim != 2 or emb.shape[0] != catalog.n_items:
        raise DataError(f"expected a ({catalog.n_items}, d) matrix, got shape {emb.shape}", path=path)
    return emb.astype(np.float64)


def cf_strategy_records(
    annotated: Annotated,
    catalog: Catalog,
    embeddings: np.ndarray,
    strategy: str,
    *,
    parser: TitleParser = "list",
) -> tuple[list[dict], SelectionReport]:
    """`{prompt, chosen, rejected}` with the candidate (or catalog item) the CF strategy picks; rows with
    no eligible item are skipped and reported."""
    if strategy not in CF_STRATEGIES:
        raise ValueError(f"unknown CF strategy {strategy!r}; choose one of {', '.join(CF_STRATEGIES)}")
    has = np.isfinite(embeddings).all(axis=1)
    histories = [
        [i for i in catalog.lookup_many(parse_title_list(inp, parser)).tolist() if i >= 0 and has[i]] for inp in annotated.inputs
    ]
    titles = catalog.require_titles("CF negatives")
    if strategy == "global_farthest":
        picks = _global_farthest(histories, embeddings, has)
        names = [quote(titles[i]) if i >= 0 else None for i in picks]
    else:
        names = _pick_candidates(annotated, catalog, embeddings, has, histories, strategy, parser)
    report = SelectionReport(strategy, records=len(annotated))
    out = []
    for r, name in enumerate(names):
        if name is None:
            report.skipped.append(r)
            continue
        out.append(
            {"prompt": render(annotated.instructions[r], annotated.inputs[r]), "chosen": annotated.chosen[r], "rejected": name}
        )
    report.written = len(out)
    return out, report


def _pick_candidates(annotated, catalog, embeddings, has, histories, strategy, parser) -> list[str | None]:
    scope, rest = (
        ("in", strategy[3:])
        if strategy.startswith("in_")
        else ("out", strategy[4:])
        if strategy.startswith("out_")
        else ("all", strategy)
    )
    ref, direction = rest.split("_")
    table = annotated.table
    rows = table.row_of()
    items = catalog.lookup_many([candidate_name(c, parser) for c in annotated.candidates])
    usable = (items >= 0) & has[np.maximum(items, 0)]
    dim = embeddings.shape[1]
    if ref == "past":
        anchors = (
            np.stack([embeddings[h].mean(axis=0) if h else np.full(dim, np.nan) for h in histories])
            if histories
            else np.zeros((0, dim))
        )
    else:
        chosen = catalog.lookup_many([parse_target(c) for c in annotated.chosen])
        ok = (chosen >= 0) & has[np.maximum(chosen, 0)]
        anchors = np.where(ok[:, None], embeddings[np.maximum(chosen, 0)], np.nan)
    dist = np.linalg.norm(np.where(usable[:, None], embeddings[np.maximum(items, 0)], np.nan) - anchors[rows], axis=1)
    usable &= np.isfinite(dist)
    dist = np.where(usable, dist, 0.0)
    maximize = direction == "farthest"
    best_all = segment_best(dist, usable, table.offsets, maximize=maximize)
    if scope == "all":
        best = best_all
    else:
        subset = usable & ((table.overlap > 0) if scope == "in" else (table.overlap == 0))
        best = segment_best(dist, subset, table.offsets, maximize=maximize)
        best = np.where(best >= 0, best, best_all)  # empty restricted set: fall back to all candidates
    return [annotated.candidates[j] if j >= 0 else None for j in best.tolist()]


def _global_farthest(histories: list[list[int]], embeddings: np.ndarray, has: np.ndarray) -> list[int]:
    """Per record the catalog item (not in the history, with an embedding) maximising the distance to its
    nearest history item; −1 when no history item has an embedding."""
    emb = np.where(has[:, None], embeddings, 0.0)
    sq = (emb**2).sum(axis=1)
    out = []
    for h in histories:
        if not h:
            out.append(-1)
            continue
        d2 = sq[None, :] + sq[h][:, None] - 2.0 * emb[h] @ emb.T
        nearest = d2.min(axis=0)
        nearest[~has] = -np.inf
        nearest[h] = -np.inf
        out.append(int(np.argmax(nearest)))
    return out
