"""Ordered user histories for sequential recommenders, and the field's leave-one-out protocol.

`UserHistories` keeps each user's items oldest first (ragged: flat `items` split by `offsets`). They come from the
SASRec benchmark files (`user item` lines already in order, e.g. ML-1M as SASRec published it), from any timed
`Interactions` (MovieLens, tables with a time column, the synthetic set: ordered by timestamp, ties in input order)
or from lists. `leave_one_out` is the protocol of SASRec, BERT4Rec, gSASRec and SASRec+: per user the last item
tests, the second-to-last validates, the rest trains; the test input is the history up to and including the
validation item.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from negrec.data.catalog import Catalog, genre_matrix
from negrec.data.interactions import Interactions
from negrec.data.sequences import Sequences
from negrec.errors import DataError


@dataclass(frozen=True, eq=False)
class UserHistories:
    """Per user an ordered item sequence (items 0..n_items−1, oldest first); `user_ids` are the external ids."""

    offsets: np.ndarray
    items: np.ndarray
    n_items: int
    user_ids: np.ndarray

    def __post_init__(self) -> None:
        if len(self.offsets) != len(self.user_ids) + 1 or self.offsets[0] != 0 or self.offsets[-1] != len(self.items):
            raise ValueError("UserHistories: offsets do not match the items and users")
        if len(self.items) and (self.items.min() < 0 or self.items.max() >= self.n_items):
            raise ValueError(f"UserHistories: item ids must lie in 0..{self.n_items - 1}")

    @classmethod
    def from_lists(cls, sequences: list[list[int]], n_items: int, user_ids=None) -> "UserHistories":
        """From one Python list of item ids per user."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        items = np.fromiter((i for s in sequences for i in s), dtype=np.int64, count=int(offsets[-1]))
        ids = np.arange(len(sequences)) if user_ids is None else np.asarray(user_ids)
        return cls(offsets, items, n_items, ids)

    @classmethod
    def from_records(cls, sequences: Sequences, n_items: int) -> "UserHistories":
        """One sequence per LLM record: its history's catalog items, then its target (titles outside the catalog
        dropped) — how the records' histories train a sequential model."""
        rows = []
        for k in range(len(sequences)):
            items = [int(i) for i in sequences.history(k) if i >= 0]
            rows.append(items + ([int(sequences.targets[k])] if sequences.targets[k] >= 0 else []))
        return cls.from_lists(rows, n_items)

    @classmethod
    def from_interactions(cls, data: Interactions) -> "UserHistories":
        """Each user's interactions by timestamp (stable: equal or missing times keep the entry order)."""
        lines = data.timelines()
        return cls.from_lists([t.tolist() for t in lines], data.n_items, data.user_ids)

    @property
    def n_users(self) -> int:
        """Number of users."""
        return len(self.user_ids)

    @property
    def lengths(self) -> np.ndarray:
        """Items per user."""
        return np.diff(self.offsets)

    def sequence(self, user: int) -> np.ndarray:
        """One user's items, oldest first."""
        return self.items[self.offsets[user] : self.offsets[user + 1]]

    def owners(self) -> np.ndarray:
        """The user of every entry of `items`."""
        return np.repeat(np.arange(self.n_users), self.lengths)

    def dropping_last(self, k: int) -> "UserHistories":
        """Every user's sequence without its last `k` items (shorter sequences become empty)."""
        lengths = np.maximum(self.lengths - k, 0)
        keep = np.arange(len(self.items)) - np.repeat(self.offsets[:-1], self.lengths) < np.repeat(lengths, self.lengths)
        return UserHistories(
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), self.items[keep], self.n_items, self.user_ids
        )

    def matrix(self) -> sp.csr_matrix:
        """The binary user × item matrix of the histories (a repeated item counts once)."""
        m = sp.csr_matrix(
            (np.ones(len(self.items), dtype=np.float32), (self.owners(), self.items)), shape=(self.n_users, self.n_items)
        )
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    def interactions(self) -> Interactions:
        """The histories as `Interactions` (position in the sequence as the timestamp): what samplers exclude."""
        return Interactions.from_arrays(
            self.owners(),
            self.items,
            n_users=self.n_users,
            n_items=self.n_items,
            timestamps=np.arange(len(self.items)) - np.repeat(self.offsets[:-1], self.lengths),
            user_ids=self.user_ids,
        )


@dataclass(frozen=True, eq=False)
class SequenceSplit:
    """Leave-one-out: `train` histories (all but the last two items), and per user the validation and test targets
    (−1 for users too short to have them); `full` is the whole history."""

    full: UserHistories
    train: UserHistories
    valid: np.ndarray
    test: np.ndarray

    def inputs(self, part: str) -> UserHistories:
        """What a model reads to predict `part`: the training histories (valid), or those plus the validation item
        (test)."""
        if part == "valid":
            return self.train
        if part == "test":
            return self.full.dropping_last(1)
        raise ValueError(f"part must be 'valid' or 'test', got {part!r}")

    def users(self, part: str) -> np.ndarray:
        """Users with a target in `part`."""
        return np.flatnonzero((self.valid if part == "valid" else self.test) >= 0)

    def targets(self, part: str) -> sp.csr_matrix:
        """The targets of `part` as a user × item matrix (one item per scored user)."""
        target = self.valid if part == "valid" else self.test
        users = np.flatnonzero(target >= 0)
        return sp.csr_matrix(
            (np.ones(len(users), dtype=np.float32), (users, target[users])), shape=(self.full.n_users, self.full.n_items)
        )


def leave_one_out(histories: UserHistories, min_train: int = 1) -> SequenceSplit:
    """Per user the last item → test, the one before → validation, the rest → training; users with fewer than
    `min_train` + 2 items keep everything in training (no targets), as SASRec's preprocessing does."""
    lengths = histories.lengths
    eligible = lengths >= min_train + 2
    last = histories.offsets[1:][eligible] - 1
    test = np.full(histories.n_users, -1, dtype=np.int64)
    valid = np.full(histories.n_users, -1, dtype=np.int64)
    test[eligible], valid[eligible] = histories.items[last], histories.items[last - 1]
    cut = np.where(eligible, 2, 0)
    keep_len = lengths - cut
    position = np.arange(len(histories.items)) - np.repeat(histories.offsets[:-1], lengths)
    keep = position < np.repeat(keep_len, lengths)
    train = UserHistories(
        np.concatenate([[0], np.cumsum(keep_len)]).astype(np.int64), histories.items[keep], histories.n_items, histories.user_ids
    )
    return SequenceSplit(histories, train, valid, test)


def read_sasrec_lines(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(users, items) of a `user item` file in file order; a malformed line is refused naming the file and line."""
    try:
        raw = np.loadtxt(path, dtype=np.int64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise DataError(f"not a `user item` file of integers ({exc})", path=path) from None
    if raw.shape[1] != 2:
        raise DataError(f"expected 2 columns `user item`, found {raw.shape[1]}", path=path)
    return raw[:, 0], raw[:, 1]


def load_sasrec(source: str | Path) -> tuple[UserHistories, Catalog]:
    """The SASRec benchmark layout: a folder with one `*.txt` of `user item` lines in chronological order (ML-1M:
    `ml-1m.txt`) and, when present, `sas_to_original_items.txt` + `movies.dat` for titles and genres; or the
    `user item` file itself. Items keep their file ids as external ids."""
    path = Path(source)
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        candidates = sorted(
            p for p in path.glob("*.txt") if p.name not in ("sas_to_original_items.txt",) and "README" not in p.name
        )
        if not candidates:
            raise DataError("no `user item` .txt file in this folder", path=path)
        path = candidates[0]
    users, items = read_sasrec_lines(path)
    user_ids, user_index = np.unique(users, return_inverse=True)
    item_ids, item_index = np.unique(items, return_inverse=True)
    order = np.argsort(user_index, kind="stable")  # each user's lines keep their file order
    counts = np.bincount(user_index, minlength=len(user_ids))
    histories = UserHistories(
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), item_index[order].astype(np.int64), len(item_ids), user_ids
    )
    return histories, _sasrec_catalog(folder, item_ids)


def _sasrec_catalog(folder: Path, item_ids: np.ndarray) -> Catalog:
    """Titles and genres joined through the recovered SASRec → MovieLens id mapping, when the files are there."""
    mapping, movies = folder / "sas_to_original_items.txt", folder / "movies.dat"
    if not (mapping.is_file() and movies.is_file()):
        return Catalog(item_ids=item_ids, name=folder.name)
    sas, original = read_sasrec_lines(mapping)
    to_movie = dict(zip(sas.tolist(), original.tolist()))
    info: dict[int, tuple[str, list[str]]] = {}
    for number, line in enumerate(movies.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split("::")
        if len(parts) != 3 or not parts[0].isdigit():
            raise DataError("expected MovieID::Title::Genres", path=movies, record=number)
        info[int(parts[0])] = (parts[1], parts[2].split("|") if parts[2] else [])
    titles, genres = [], []
    for item in item_ids.tolist():
        title, listed = info.get(to_movie.get(item, -1), (f"item {item}", []))
        titles.append(title)
        genres.append(listed)
    matrix, names = genre_matrix(genres)
    return Catalog(item_ids=item_ids, titles=titles, genres=matrix, genre_names=names, name=folder.name, source_genres=genres)
