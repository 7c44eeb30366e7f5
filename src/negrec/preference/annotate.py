"""Annotate negative candidates with the user's interest cluster and each candidate's genres and exposure
(docs/seed-method.md §2.5), vectorised so that 100k records take seconds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.io import read_records
from negrec.data.titles import TitleParser, parse_target, parse_title_list
from negrec.errors import DataError
from negrec.data.prompts import parse_prompt
from negrec.sampling.profiles import Exposure, cluster_ids, count_exposure, genre_ids, listed_genres
from negrec.sampling.strategies import CandidateTable

_FIRST_QUOTED = re.compile(r'"(.*?)"')


def candidate_name(text: str, parser: TitleParser = "list") -> str:
    """Title of a candidate string: clean = outer quotes stripped; seed = text inside the first quote pair."""
    if parser == "seed":
        first = text.find('"')
        second = text.find('"', first + 1) if first >= 0 else -1
        if second >= 0 and "\n" not in text[first:second]:
            return text[first + 1 : second]  # what the regex finds, without its per-call cost
        m = _FIRST_QUOTED.search(text)
        return m.group(1) if m else text.strip()
    return parse_target(text)


@dataclass(frozen=True, eq=False)
class Annotated:
    """Candidate records with their profiles; `table` feeds the selection strategies."""

    instructions: list[str]
    inputs: list[str]
    chosen: list[str]
    candidates: list[str]  # flat, row r owns table.offsets[r]:table.offsets[r+1]
    clusters: list[list[str]]  # interest cluster per row, best first
    genres: list[list[str]]  # per candidate, as listed in the catalog
    ranks: np.ndarray  # exposure rank per candidate, 0 = unseen (the seed's null)
    table: CandidateTable

    def __len__(self) -> int:
        return len(self.chosen)

    @property
    def in_cluster_share(self) -> float:
        """The share of candidates that share a genre (or, for embedding clusters, a cluster) with their user's
        interest cluster — how far the cluster axis of the strategies can separate them (NaN without candidates)."""
        return float(np.mean(self.table.overlap > 0)) if len(self.table.overlap) else float("nan")

    def row_candidates(self, r: int) -> list[str]:
        """Candidates of row r, in stored order."""
        return self.candidates[self.table.offsets[r] : self.table.offsets[r + 1]]

    def records(self) -> list[dict]:
        """The seed's annotated format."""
        out = []
        e, off = self.table.exposure, self.table.offsets
        for r in range(len(self)):
            details = [
                {
                    "rejected": self.candidates[j],
                    "genre": self.genres[j],
                    "exposure_count": int(e[j]),
                    "exposure_rank": int(self.ranks[j]) or None,
                }
                for j in range(off[r], off[r + 1])
            ]
            out.append(
                {
                    "instruction": self.instructions[r],
                    "input": self.inputs[r],
                    "chosen": self.chosen[r],
                    "rejected": self.row_candidates(r),
                    "interest_clusters": self.clusters[r],
                    "rejected_details": details,
                }
            )
        return out


def read_candidates(path: str | Path) -> list[dict]:
    """Candidate records `{prompt, chosen, rejected: [..]}` (JSON or JSONL), validated field by field."""
    records, lines = read_records(path, ("prompt", "chosen"))
    for k, rec in enumerate(records):
        line = lines[k] if lines else None
        rejected = rec.get("rejected")
        if isinstance(rejected, str):
            rec["rejected"] = [rejected]
        elif not isinstance(rejected, list) or not all(isinstance(x, str) for x in rejected):
            raise DataError("must be a list of strings", path=path, record=k, line=line, field="rejected")
    return records


def histories_of(path: str | Path, parser: TitleParser = "list") -> list[list[str]]:
    """History titles of every record of a file with `input` fields or T-train/T-pred `prompt` fields."""
    records, lines = read_records(path)
    out = []
    for k, rec in enumerate(records):
        if isinstance(rec.get("input"), str):
            text = rec["input"]
        elif isinstance(rec.get("prompt"), str):
            text = parse_prompt(rec["prompt"], where=str(path), record=k)[1]
        else:
            raise DataError(
                "needs an 'input' or a 'prompt' string", path=path, record=k, line=lines[k] if lines else None, field="input"
            )
        out.append(parse_title_list(text, parser))
    return out


def annotate(
    records: Sequence[dict],
    catalog: Catalog,
    *,
    exposure: Exposure | None = None,
    parser: TitleParser = "list",
    top_k: int = 3,
    where: str = "candidates",
) -> Annotated:
    """Profiles for candidate records: interest cluster (top-k genres of the history, first seen wins),
    and per candidate its genres, exposure count and rank. Without `exposure`, counts come from the
    histories of these same records (the seed's behaviour)."""
    catalog.require_genres("annotation")
    catalog.require_titles("annotation")
    instructions, inputs, histories = [], [], []
    for k, rec in enumerate(records):
        ins, inp = parse_prompt(rec["prompt"], where=where, record=k)
        instructions.append(ins)
        inputs.append(inp)
        histories.append(parse_title_list(inp, parser))
    exposure = exposure or count_exposure(histories)
    listed = listed_genres(catalog)
    g_off, g_flat = genre_ids(listed, catalog)
    n_rows, n_genres = len(records), len(catalog.genre_names)

    top = cluster_ids(histories, catalog, top_k, listed=listed, given_ids=(g_off, g_flat))
    names = catalog.genre_names
    clusters = [[names[g] for g in row if g >= 0] for row in top]

    # candidates: genres, overlap with the row's cluster, exposure
    candidates = [c for rec in records for c in rec["rejected"]]
    c_lens = np.fromiter((len(rec["rejected"]) for rec in records), dtype=np.int64, count=n_rows)
    offsets = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(c_lens, out=offsets[1:])
    c_names = [candidate_name(c, parser) for c in candidates]
    c_items = catalog.lookup_many(c_names)
    c_rows = np.repeat(np.arange(n_rows), c_lens)
    in_cluster = np.zeros((n_rows, n_genres), dtype=bool)
    r_idx, g_idx = np.nonzero(top >= 0)
    in_cluster[r_idx, top[r_idx, g_idx]] = True
    multi_hot = catalog.require_genres("annotation")
    known = c_items >= 0
    overlap = np.zeros(len(candidates), dtype=np.int64)
    if known.any():
        hot = multi_hot[c_items[known]].toarray() > 0
        overlap[known] = (hot & in_cluster[c_rows[known]]).sum(axis=1)
    genres = [listed[i] if i >= 0 else [] for i in c_items.tolist()]  # shared with the catalog: read-only
    counts, ranks = exposure.lookup(c_names)
    table = CandidateTable(offsets=offsets, exposure=counts, overlap=overlap, keys=_keys(candidates))
    chosen = [rec["chosen"] for rec in records]
    return Annotated(instructions, inputs, chosen, candidates, clusters, genres, ranks, table)


def _keys(strings: list[str]) -> np.ndarray:
    """Integer identity of each string (equal strings share a key)."""
    index: dict[str, int] = {}
    return np.fromiter((index.setdefault(s, len(index)) for s in strings), dtype=np.int64, count=len(strings))


def load_annotated(path: str | Path) -> Annotated:
    """Read the seed's annotated format back (profiles as stored, no recomputation)."""
    records, lines = read_records(path)
    fields = ("instruction", "input", "chosen", "rejected", "interest_clusters", "rejected_details")
    candidates, genres, exposure, ranks, overlap, lengths = [], [], [], [], [], []
    for k, rec in enumerate(records):
        for key in fields:
            if key not in rec:
                raise DataError("missing", path=path, record=k, line=lines[k] if lines else None, field=key)
        cluster = set(rec["interest_clusters"])
        for d in rec["rejected_details"]:
            candidates.append(d["rejected"])
            genres.append(list(d["genre"]))
            exposure.append(int(d["exposure_count"]))
            ranks.append(int(d["exposure_rank"] or 0))
            overlap.append(len(set(d["genre"]) & cluster))
        lengths.append(len(rec["rejected_details"]))
    offsets = np.zeros(len(records) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    table = CandidateTable(offsets, np.asarray(exposure, dtype=np.int64), np.asarray(overlap, dtype=np.int64), _keys(candidates))
    return Annotated(
        [r["instruction"] for r in records],
        [r["input"] for r in records],
        [r["chosen"] for r in records],
        candidates,
        [list(r["interest_clusters"]) for r in records],
        genres,
        np.asarray(ranks, dtype=np.int64),
        table,
    )
