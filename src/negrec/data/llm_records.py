"""Any interactions dataset with item titles → the Goodreads LLM layout: `{instruction, input, output}` records
(chronological per-user windows) and the catalog files (`id2name`, `name2id`, `name2genre`, `genre_dict`).

Per user, items oldest first (by timestamp; ties and untimed data in the source's entry order): the last item is the
test target, the one before it the validation target, and up to `train_per_user` earlier positions give training
records, each with the `history` items before its target. Titles are made safe for the quoted-list format and unique
(see `catalog_titles`), so every history title and target is a catalog title."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.data.io import write_json
from negrec.data.titles import quote

RECORDS_KIND = "llm-records"  # the marker of a folder `negrec data llm-records` wrote (see data.outputs)
# a record's history is what its prompt says the user enjoyed: with ratings, only ratings ≥ 4 (of 5) by default
DEFAULT_THRESHOLD = 4.0


WORDINGS = {  # (instruction, history prefix, history suffix) of a record, {noun} the items' plural
    "seed": (
        "Given a list of {noun} the user recently enjoys, please recommend a new {noun} that the user may like",
        "The user has played the following {noun} before: ",
        ", please write a new {noun} that the user may bought",
    ),
    "plain": (
        "Given a list of {noun} the user recently enjoyed, please recommend another one the user may like",
        "The user has enjoyed the following {noun}: ",
        ", please name another one the user would enjoy",
    ),
}


@dataclass(frozen=True)
class RecordsConfig:
    """How records are cut from the interactions (the seed's Goodreads files: 10 history titles)."""

    history: int = 10  # items before the target in a record's input (the latest ones)
    min_history: int = 3  # a record needs at least this many history items
    train_per_user: int = 5  # training records per user: the latest positions before the validation target
    valid: int | None = None  # validation records: this many users drawn at random (seeded); None: every user
    test: int | None = None  # test records, likewise
    # also train_sample.json: this many training records drawn at random, the preference stages' set (the seed's
    # Goodreads train_sample.json holds 1,024); None: no sample file
    train_sample: int | None = None
    seed: int = 0
    noun: str = "items"  # what the prompt calls the items ("books" in the seed, "movies" for MovieLens)
    # seed: the seed's sentences verbatim with the noun put in ("a new movies … the user may bought": models trained on
    # the seed's prompts read them as they were trained); plain: grammatical sentences for any plural noun
    wording: str = "seed"

    def __post_init__(self) -> None:
        for name in ("history", "min_history", "train_per_user", "valid", "test", "train_sample"):
            value = getattr(self, name)  # the last three may be None: every user / no sample
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.wording not in WORDINGS:
            raise ValueError(f"--wording must be one of {', '.join(WORDINGS)}, got {self.wording!r}")
        if not self.noun.strip() or any(c in self.noun for c in '"\n\r'):
            raise ValueError(f"--noun must be plain words (no double quotes or line breaks), got {self.noun!r}")
        if self.min_history > self.history:
            raise ValueError(f"--min-history {self.min_history} is more than --history {self.history}")


def liked(inter: Interactions, threshold: float | None, source: str) -> tuple[Interactions, float | None]:
    """The interactions records are cut from and the threshold applied: ratings ≥ `threshold` (None: ≥ 4 where the data
    has ratings, every entry where it has none; 0 keeps every rating)."""
    if threshold is None:
        return (inter.at_least(DEFAULT_THRESHOLD), DEFAULT_THRESHOLD) if inter.has_ratings else (inter, None)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not np.isfinite(threshold):
        raise ValueError(f"--threshold: a rating (a finite number), got {threshold!r}")
    if not inter.has_ratings:
        raise ValueError(f"--threshold needs ratings; {source} has none")
    return inter.at_least(threshold), threshold


def catalog_titles(titles: list[str], item_ids: np.ndarray) -> list[str]:
    """Titles usable inside a quoted history: double quotes become single ones, runs of whitespace one space; a title
    several items share gets its item id appended (`Title [id]`), so every item has its own."""
    ids = item_ids.tolist()
    names = [" ".join(t.replace('"', "'").split()) or f"item {i}" for t, i in zip(titles, ids)]
    while True:  # a suffixed name can meet a real title of that text (`Dup [5]`): suffix again until all differ
        counts = Counter(names)
        if all(c == 1 for c in counts.values()):
            return names
        names = [f"{t} [{i}]" if counts[t] > 1 else t for t, i in zip(names, ids)]


def build_records(inter: Interactions, titles: list[str], config: RecordsConfig) -> dict[str, list[dict]]:
    """{"train", "valid", "test"} record lists (users in id order; valid/test users drawn when sizes are given), and
    "train_sample" when its size is given (drawn after them, so the other files do not depend on it)."""
    instruction, prefix, suffix = (part.format(noun=config.noun) for part in WORDINGS[config.wording])

    def record(items: np.ndarray, p: int) -> dict:
        history = items[max(0, p - config.history) : p]
        return {
            "instruction": instruction,
            "input": prefix + ", ".join(quote(titles[i]) for i in history) + suffix,
            "output": quote(titles[items[p]]) + "\n",
        }

    parts: dict[str, list[dict]] = {"train": [], "valid": [], "test": []}
    eligible: dict[str, list[int]] = {"valid": [], "test": []}
    lines = inter.timelines()
    for u, items in enumerate(lines):
        n = len(items)
        if n - 1 >= config.min_history:
            eligible["test"].append(u)
        if n - 2 >= config.min_history:
            eligible["valid"].append(u)
        first = max(config.min_history, n - 2 - config.train_per_user)
        parts["train"] += [record(items, p) for p in range(first, n - 2)]
    rng = np.random.default_rng(config.seed)
    for split, last in (("valid", 2), ("test", 1)):
        users = np.asarray(eligible[split], dtype=np.int64)
        size = getattr(config, split)
        if size is not None and size < len(users):
            users = np.sort(rng.choice(users, size=size, replace=False))
        parts[split] = [record(lines[u], len(lines[u]) - last) for u in users.tolist()]
    if config.train_sample is not None:
        size = min(config.train_sample, len(parts["train"]))
        picked = np.sort(rng.choice(len(parts["train"]), size=size, replace=False))
        parts["train_sample"] = [parts["train"][i] for i in picked.tolist()]
    return parts


def write_llm_records(folder: Path, inter: Interactions, catalog: Catalog, config: RecordsConfig) -> dict[str, int]:
    """Write the layout into `folder` (an empty one the caller owns); return the record counts per file."""
    titles = catalog_titles(catalog.require_titles("LLM records"), np.asarray(catalog.item_ids))
    parts = build_records(inter, titles, config)
    write_json(folder / "id2name.json", {str(i): t for i, t in enumerate(titles)})
    write_json(folder / "name2id.json", {t: i for i, t in enumerate(titles)})
    genres = [catalog.item_genres(i) for i in range(catalog.n_items)] if catalog.has_genres else [[] for _ in titles]
    write_json(folder / "name2genre.json", dict(zip(titles, genres)))
    write_json(folder / "genre_dict.json", {g: 0 for g in (catalog.fairness_genres or catalog.genre_names)})
    for split, records in parts.items():
        write_json(folder / f"{split}.json", records)
    write_json(
        folder / "records_config.json", {**config.__dict__, "source_items": catalog.n_items, "source_interactions": inter.nnz}
    )
    return {f"{split}.json": len(records) for split, records in parts.items()}
