"""The Goodreads LLM format: `{instruction, input, output}` records plus id2name/name2genre/genre_dict."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from negrec.data.catalog import Catalog, genre_matrix
from negrec.data.interactions import Interactions
from negrec.data.io import read_json, read_records
from negrec.data.sequences import Sequences
from negrec.data.titles import TitleParser, parse_target, parse_title_list
from negrec.errors import DataError

RECORD_FIELDS = ("instruction", "input", "output")


def load_goodreads_catalog(folder: str | Path, *, name: str = "goodreads") -> Catalog:
    """Catalog from `id2name.json` (+ `name2genre.json` genres, `genre_dict.json` fairness genres when present)."""
    folder = Path(folder)
    id_path = folder / "id2name.json"
    id2name = read_json(id_path)
    if not isinstance(id2name, dict):
        raise DataError("expected an object {id: title}", path=id_path)
    pairs = []
    for key, title in id2name.items():
        try:
            idx = int(key)
        except ValueError:
            raise DataError("id is not an integer", path=id_path, field=key) from None
        if not isinstance(title, str):
            raise DataError(f"title must be a string, got {type(title).__name__}", path=id_path, field=key)
        pairs.append((idx, title))
    pairs.sort()
    ids = np.array([p[0] for p in pairs], dtype=np.int64)
    if not np.array_equal(ids, np.arange(len(ids))):
        raise DataError("ids must be 0..n-1 without gaps", path=id_path)
    titles = [p[1] for p in pairs]

    genre_path = folder / "name2genre.json"
    if not genre_path.is_file():
        return Catalog(item_ids=ids, titles=titles, name=name)
    name2genre = read_json(genre_path)
    if not isinstance(name2genre, dict):
        raise DataError("expected an object {title: [genre, ...]}", path=genre_path)
    for title, genres in name2genre.items():
        if not isinstance(genres, list) or not all(isinstance(g, str) for g in genres):
            raise DataError("genres must be a list of strings", path=genre_path, field=title)
    fairness = None
    dict_path = folder / "genre_dict.json"
    if dict_path.is_file():
        genre_dict = read_json(dict_path)
        if not isinstance(genre_dict, dict):
            raise DataError("expected an object {genre: 0, ...}", path=dict_path)
        fairness = list(genre_dict)  # key order is the seed's Dis_genre order
    listed = [list(name2genre.get(t, [])) for t in titles]
    matrix, names = genre_matrix(listed, fairness)
    return Catalog(
        item_ids=ids,
        titles=titles,
        genres=matrix,
        genre_names=names,
        fairness_genres=fairness,
        name=name,
        source_genres=listed,
    )


@dataclass(frozen=True)
class MissingTitles:
    """Titles of a file that are not in the catalog: counted and listed, never dropped silently."""

    history_total: int = 0
    history_missing: int = 0
    target_total: int = 0
    target_missing: int = 0
    examples: list[str] = field(default_factory=list)  # most frequent missing titles first

    def summary(self) -> str:
        """One line for logs and `negrec data info`."""
        return (
            f"{self.history_missing}/{self.history_total} history titles and "
            f"{self.target_missing}/{self.target_total} targets not in the catalog"
        )


@dataclass(frozen=True, eq=False)
class GoodreadsSplit:
    """One records file: the raw records, their item sequences and the missing-title report."""

    path: Path
    records: list[dict]
    history_titles: list[list[str]]
    target_titles: list[str]
    sequences: Sequences
    missing: MissingTitles


def load_goodreads_records(path: str | Path, catalog: Catalog, *, parser: TitleParser = "list") -> GoodreadsSplit:
    """Read a records file (JSON array or JSONL), validate each record and map titles to catalog items."""
    path = Path(path)
    records, lines = read_records(path)
    histories: list[list[str]] = []
    targets: list[str] = []
    for k, rec in enumerate(records):
        for key in RECORD_FIELDS:
            value = rec.get(key)
            if not isinstance(value, str):
                problem = "missing" if value is None else f"must be a string, got {type(value).__name__}"
                raise DataError(problem, path=path, record=k, line=lines[k] if lines else None, field=key)
        history = parse_title_list(rec["input"], parser)
        if not history:
            raise DataError(
                "no quoted titles in the history", path=path, record=k, line=lines[k] if lines else None, field="input"
            )
        histories.append(history)
        targets.append(parse_target(rec["output"]))
    flat = [t for h in histories for t in h]
    flat_ids = catalog.lookup_many(flat)
    target_ids = catalog.lookup_many(targets)
    missing = Counter(t for t, i in zip(flat, flat_ids) if i < 0)
    missing.update(t for t, i in zip(targets, target_ids) if i < 0)
    report = MissingTitles(
        history_total=len(flat),
        history_missing=int((flat_ids < 0).sum()),
        target_total=len(targets),
        target_missing=int((target_ids < 0).sum()),
        examples=[t for t, _ in missing.most_common(10)],
    )
    offsets = np.zeros(len(histories) + 1, dtype=np.int64)
    np.cumsum([len(h) for h in histories], out=offsets[1:])
    seqs = Sequences(offsets=offsets, items=flat_ids, targets=target_ids)
    return GoodreadsSplit(path, records, histories, targets, seqs, report)


def history_interactions(split: GoodreadsSplit, n_items: int) -> Interactions:
    """Each record as a user whose interactions are its catalog history titles (duplicates counted once)."""
    seqs = split.sequences
    rows = np.repeat(np.arange(len(seqs)), seqs.lengths())
    keep = seqs.items >= 0
    return Interactions.from_arrays(rows[keep], seqs.items[keep], n_users=len(seqs), n_items=n_items)


# the layout's catalog files and the settings files the writers of this layout add beside the records
NOT_RECORDS = {
    "id2name.json",
    "name2id.json",
    "name2genre.json",
    "genre_dict.json",
    "synthetic_config.json",
    "records_config.json",
}


def goodreads_summary(folder: str | Path, catalog: Catalog | None = None) -> dict:
    """Catalog size and, per records file in the folder, its record count and missing-title report."""
    folder = Path(folder)
    catalog = catalog or load_goodreads_catalog(folder)
    files = {}
    for path in sorted(folder.glob("*.json")):
        if path.name in NOT_RECORDS:
            continue
        split = load_goodreads_records(path, catalog)
        files[path.name] = {
            "records": len(split.records),
            "missing": split.missing.summary(),
            "missing_examples": split.missing.examples,
        }
    return {"catalog_items": catalog.n_items, "genres": len(catalog.genre_names), "files": files}
