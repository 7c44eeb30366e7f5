"""Interaction tables: generic CSV/Parquet, MovieLens 100K, ml-latest-small."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from negrec.data.catalog import Catalog, genre_matrix
from negrec.data.interactions import Interactions
from negrec.data.io import numeric_column, read_csv, text_column
from negrec.errors import DataError


@dataclass(frozen=True, eq=False)
class Dataset:
    """A catalog with its interactions."""

    name: str
    catalog: Catalog
    interactions: Interactions
    unread_time_columns: tuple[str, ...] = ()  # time-like columns of a table that were not read (no --time-col)


def _ids(values: np.ndarray) -> np.ndarray:
    """Keep ids numeric when every id is an integer, so external ids sort and print naturally."""
    try:
        as_int = values.astype(np.int64)
    except (ValueError, TypeError, OverflowError):  # text, or integers past int64: kept as text, never wrapped
        return values.astype(str)
    return as_int if np.array_equal(as_int.astype(str), values.astype(str)) else values.astype(str)


def unique_ids(ids: np.ndarray, path: str | Path, field: str, *, first_line: int) -> np.ndarray:
    """`ids` unchanged when no id repeats; else a DataError at the first repeat (it would make a phantom item)."""
    _, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        seen = np.zeros(len(ids), dtype=bool)
        seen[first] = True
        row = int(np.flatnonzero(~seen)[0])
        earlier = int(np.flatnonzero(ids == ids[row])[0])
        raise DataError(
            f"id {ids[row].item()!r} already defined on line {earlier + first_line}",
            path=path,
            line=row + first_line,
            field=field,
        )
    return ids


def interactions_from_columns(
    users: np.ndarray,
    items: np.ndarray,
    *,
    path: str | Path,
    first_line: int,
    item_field: str,
    catalog: Catalog | None = None,
    ratings: np.ndarray | None = None,
    timestamps: np.ndarray | None = None,
    keep: np.ndarray | None = None,
    name: str = "interactions",
) -> Dataset:
    """Index external ids (users sorted; items by `catalog`, else sorted) and keep the rows where `keep` holds.

    Ids are indexed over all rows, so filtering (e.g. a rating threshold) never changes the item index.
    """
    if len(users) == 0:
        raise DataError("no interactions (no data rows)", path=path)
    users = _ids(np.asarray(users))
    items = _ids(np.asarray(items))
    user_ids, u = np.unique(users, return_inverse=True)
    if catalog is None:
        item_ids, i = np.unique(items, return_inverse=True)
        catalog = Catalog.from_ids(item_ids, name=name)
    else:
        i = catalog.index_of(items.tolist())
        unknown = np.flatnonzero(i < 0)
        if len(unknown):
            row = int(unknown[0])
            raise DataError(
                f"item id {items[row].item()!r} is not in the catalog ({len(unknown)} such rows)",
                path=path,
                line=row + first_line,
                field=item_field,
            )
    keep = np.ones(len(u), dtype=bool) if keep is None else keep
    inter = Interactions.from_arrays(
        u[keep],
        i[keep],
        n_users=len(user_ids),
        n_items=catalog.n_items,
        ratings=None if ratings is None else ratings[keep],
        timestamps=None if timestamps is None else timestamps[keep],
        user_ids=user_ids,
    )
    return Dataset(name=name, catalog=catalog, interactions=inter)


@dataclass(frozen=True)
class TableOptions:
    """How to read a generic interactions table: its columns, separator, and an optional item file
    (`id,title[,genres]`, genres separated by '|') that gives the items titles and genres."""

    user_col: str = "user"
    item_col: str = "item"
    rating_col: str | None = None
    time_col: str | None = None
    sep: str = ","
    items: Path | None = None


def load_item_file(path: str | Path, *, sep: str = ",", genre_sep: str = "|") -> Catalog:
    """A catalog from an item file with columns id, title and optionally genres (every id once, titles non-empty)."""
    path = Path(path)
    frame = read_csv(path, sep=sep)
    ids = unique_ids(_ids(text_column(frame, "id", path, first_line=2)), path, "id", first_line=2)
    titles = text_column(frame, "title", path, first_line=2).astype(str).tolist()
    genres = mat = None
    names: list[str] = []
    if "genres" in frame.columns:
        genres = [[g.strip() for g in str(v).split(genre_sep) if g.strip()] if v == v else [] for v in frame["genres"].tolist()]
        mat, names = genre_matrix(genres)
    return Catalog(item_ids=ids, titles=titles, genres=mat, genre_names=names, source_genres=genres, name=path.stem)


TIME_NAMES = {"timestamp", "time", "datetime", "date", "ts", "event_time", "created_at"}  # columns that order entries


def load_table(
    path: str | Path,
    *,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = None,
    time_col: str | None = None,
    sep: str = ",",
    threshold: float | None = None,
    catalog: Catalog | None = None,
) -> Dataset:
    """Generic interactions from CSV/TSV or Parquet; `threshold` keeps ratings ≥ it (implicit feedback)."""
    path = Path(path)
    if path.suffix.lower() in {".parquet", ".pq"}:
        if not path.is_file():
            raise DataError("file not found", path=path)
        frame = pd.read_parquet(path).astype(str)
        first_line = 1  # "line" = 1-based row number for Parquet
    else:
        frame = read_csv(path, sep=sep)
        first_line = 2
    users = text_column(frame, user_col, path, first_line=first_line)
    items = text_column(frame, item_col, path, first_line=first_line)
    ratings = None if rating_col is None else numeric_column(frame, rating_col, path, first_line=first_line)
    stamps = None if time_col is None else numeric_column(frame, time_col, path, first_line=first_line, kind="int")
    if threshold is not None and ratings is None:
        raise DataError("a rating threshold needs a rating column", path=path, field="rating_col")
    unread = () if time_col is not None else tuple(c for c in frame.columns if str(c).strip().lower() in TIME_NAMES)
    data = interactions_from_columns(
        users,
        items,
        path=path,
        first_line=first_line,
        item_field=item_col,
        catalog=catalog,
        ratings=ratings,
        timestamps=stamps,
        keep=None if threshold is None else ratings >= threshold,
        name=path.stem,
    )
    return replace(data, unread_time_columns=unread)


def load_movielens_100k(folder: str | Path) -> Dataset:
    """MovieLens 100K: `u.data` (user, item, rating, timestamp) with titles and 19 genre flags from `u.item`."""
    folder = Path(folder)
    genre_path = folder / "u.genre"
    genre_frame = read_csv(genre_path, sep="|", header=False, names=["genre", "index"], encoding="latin-1")
    genre_names = [g for g in genre_frame["genre"].tolist() if g]
    item_path = folder / "u.item"
    items = read_csv(
        item_path, sep="|", header=False, names=["item", "title", "date", "video", "url", *genre_names], encoding="latin-1"
    )
    item_ids = unique_ids(numeric_column(items, "item", item_path, first_line=1, kind="int"), item_path, "item", first_line=1)
    flags = np.column_stack([numeric_column(items, g, item_path, first_line=1, kind="int") for g in genre_names])
    genre_lists = [[genre_names[j] for j in np.flatnonzero(row)] for row in flags]
    genres, names = genre_matrix(genre_lists, genre_names)
    catalog = Catalog(item_ids=item_ids, titles=items["title"].tolist(), genres=genres, genre_names=names, name="movielens-100k")
    data_path = folder / "u.data"
    frame = read_csv(data_path, sep="\t", header=False, names=["user", "item", "rating", "timestamp"])
    cols = {c: numeric_column(frame, c, data_path, first_line=1, kind="int") for c in ("user", "item", "timestamp")}
    ratings = numeric_column(frame, "rating", data_path, first_line=1)
    return interactions_from_columns(
        cols["user"],
        cols["item"],
        path=data_path,
        first_line=1,
        item_field="item",
        catalog=catalog,
        ratings=ratings,
        timestamps=cols["timestamp"],
        name="movielens-100k",
    )


def load_movielens_latest(folder: str | Path) -> Dataset:
    """ml-latest-small: `ratings.csv` with titles and `|`-separated genres from `movies.csv`."""
    folder = Path(folder)
    movies_path = folder / "movies.csv"
    movies = read_csv(movies_path)
    item_ids = unique_ids(
        numeric_column(movies, "movieId", movies_path, first_line=2, kind="int"), movies_path, "movieId", first_line=2
    )
    genre_lists = [[] if g in ("", "(no genres listed)") else g.split("|") for g in movies["genres"].tolist()]
    genres, names = genre_matrix(genre_lists)
    catalog = Catalog(
        item_ids=item_ids, titles=movies["title"].tolist(), genres=genres, genre_names=names, name="ml-latest-small"
    )
    ratings_path = folder / "ratings.csv"
    frame = read_csv(ratings_path)
    return interactions_from_columns(
        numeric_column(frame, "userId", ratings_path, first_line=2, kind="int"),
        numeric_column(frame, "movieId", ratings_path, first_line=2, kind="int"),
        path=ratings_path,
        first_line=2,
        item_field="movieId",
        catalog=catalog,
        ratings=numeric_column(frame, "rating", ratings_path, first_line=2),
        timestamps=numeric_column(frame, "timestamp", ratings_path, first_line=2, kind="int"),
        name="ml-latest-small",
    )
