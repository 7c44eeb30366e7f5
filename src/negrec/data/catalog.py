"""Catalog: the item index 0..n-1, external ids, titles and multi-hot genres."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from negrec.errors import DataError


def normalise_title(title: str) -> str:
    """Canonical form of a title for lenient matching: NFKC, no outer quotes, single spaces, casefolded."""
    text = unicodedata.normalize("NFKC", title).strip()
    text = text.strip("\"'“”‘’").strip()
    return re.sub(r"\s+", " ", text).casefold()


def genre_matrix(
    genre_lists: Sequence[Sequence[str]], genre_names: Sequence[str] | None = None
) -> tuple[sp.csr_matrix, list[str]]:
    """Multi-hot item × genre CSR from per-item genre lists; new genres are appended in first-seen order."""
    names = list(genre_names) if genre_names is not None else []
    index = {g: j for j, g in enumerate(names)}
    rows, cols = [], []
    for i, genres in enumerate(genre_lists):
        for g in genres:
            j = index.get(g)
            if j is None:
                j = index[g] = len(names)
                names.append(g)
            rows.append(i)
            cols.append(j)
    data = np.ones(len(rows), dtype=np.float32)
    mat = sp.csr_matrix((data, (rows, cols)), shape=(len(genre_lists), len(names)))
    mat.sum_duplicates()
    mat.data[:] = 1.0  # a genre listed twice for one item still counts once
    return mat, names


@dataclass(frozen=True, eq=False)
class Catalog:
    """Items 0..n-1 with external ids, optional titles and an optional multi-hot genre matrix."""

    item_ids: np.ndarray
    titles: list[str] | None = None
    genres: sp.csr_matrix | None = None
    genre_names: list[str] = field(default_factory=list)
    # Subset of genre_names used by the genre-fairness metrics (DGU/MGU); None means all genres.
    fairness_genres: list[str] | None = None
    name: str = "catalog"
    # Per-item genre names in the source file's order (e.g. name2genre.json), for writing them back as listed.
    source_genres: list[list[str]] | None = None

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        if self.titles is not None and len(self.titles) != n:
            raise ValueError(f"{self.name}: {len(self.titles)} titles for {n} items")
        if self.genres is not None and self.genres.shape != (n, len(self.genre_names)):
            raise ValueError(f"{self.name}: genre matrix shape {self.genres.shape} != ({n}, {len(self.genre_names)})")

    def __len__(self) -> int:
        return len(self.item_ids)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.item_ids)

    @property
    def has_genres(self) -> bool:
        """Whether the catalog carries genre information."""
        return self.genres is not None and len(self.genre_names) > 0

    def require_genres(self, purpose: str) -> sp.csr_matrix:
        """Return the genre matrix or raise a DataError saying what needed it."""
        if not self.has_genres:
            raise DataError(f"{purpose} needs item genres, but catalog '{self.name}' has none", field="genres")
        assert self.genres is not None
        return self.genres

    def require_titles(self, purpose: str) -> list[str]:
        """Return the titles or raise a DataError saying what needed them."""
        if self.titles is None:
            raise DataError(f"{purpose} needs item titles, but catalog '{self.name}' has none", field="titles")
        return self.titles

    def fairness_matrix(self) -> tuple[sp.csr_matrix, list[str]]:
        """Item × fairness-genre multi-hot matrix and the genre names, in fairness order."""
        genres = self.require_genres("genre fairness")
        names = self.fairness_genres if self.fairness_genres is not None else self.genre_names
        col = {g: j for j, g in enumerate(self.genre_names)}
        missing = [g for g in names if g not in col]
        if missing:
            raise DataError(f"fairness genres {missing} are not genres of catalog '{self.name}'", field="genres")
        return genres[:, [col[g] for g in names]].tocsr(), list(names)

    def item_genres(self, item: int) -> list[str]:
        """Genre names of one item, as listed in the source when known, else in genre-vocabulary order."""
        if self.source_genres is not None:
            return list(self.source_genres[item])
        genres = self.require_genres("item_genres")
        row = genres.indices[genres.indptr[item] : genres.indptr[item + 1]]
        return [self.genre_names[j] for j in np.sort(row)]

    def _title_maps(self) -> tuple[dict[str, int], dict[str, int]]:
        cache = self.__dict__.get("_maps")
        if cache is None:
            titles = self.require_titles("title lookup")
            exact: dict[str, int] = {}
            loose: dict[str, int] = {}
            for i, t in enumerate(titles):
                exact.setdefault(t, i)  # first occurrence wins for duplicated titles
                loose.setdefault(normalise_title(t), i)
            cache = (exact, loose)
            object.__setattr__(self, "_maps", cache)
        return cache

    def lookup(self, title: str, *, normalised: bool = False) -> int:
        """Item index of a title (exact, or after normalise_title); -1 when unknown."""
        exact, loose = self._title_maps()
        if title in exact:
            return exact[title]
        return loose.get(normalise_title(title), -1) if normalised else -1

    def lookup_many(self, titles: Sequence[str], *, normalised: bool = False) -> np.ndarray:
        """Vector of item indices for titles; -1 for unknown ones."""
        if normalised:
            return np.fromiter((self.lookup(t, normalised=True) for t in titles), dtype=np.int64, count=len(titles))
        exact = self._title_maps()[0].get  # the hot path: plain dict lookups
        return np.fromiter((exact(t, -1) for t in titles), dtype=np.int64, count=len(titles))

    def _id_map(self) -> dict:
        cache = self.__dict__.get("_ids")
        if cache is None:
            cache = {k: i for i, k in enumerate(self.item_ids.tolist())}
            object.__setattr__(self, "_ids", cache)
        return cache

    def index_of(self, external_ids: Sequence) -> np.ndarray:
        """Internal indices of external ids; -1 for ids not in the catalog."""
        ids = self._id_map()
        return np.fromiter((ids.get(k, -1) for k in external_ids), dtype=np.int64, count=len(external_ids))

    @classmethod
    def from_ids(cls, item_ids: Sequence, name: str = "catalog") -> "Catalog":
        """A catalog of bare ids (no titles, no genres)."""
        return cls(item_ids=np.asarray(item_ids), name=name)
