"""The course-homework Kaggle format: `UserId,ItemId` rows with space-separated item ids, and its submission file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from negrec.data.catalog import Catalog
from negrec.data.interactions import Interactions
from negrec.data.io import atomic_path, read_csv
from negrec.data.tabular import Dataset
from negrec.errors import DataError


def read_kaggle_lists(path: str | Path) -> tuple[np.ndarray, list[list[str]]]:
    """User ids and their item-id lists, validated: no empty or repeated user, no user without items."""
    path = Path(path)
    frame = read_csv(path)
    for col in ("UserId", "ItemId"):
        if col not in frame.columns:
            raise DataError(f"missing column (have {list(frame.columns)})", path=path, field=col)
    user_ids = frame["UserId"].str.strip().to_numpy(dtype=object)
    item_lists = [s.split() for s in frame["ItemId"].tolist()]
    seen: dict[str, int] = {}
    for row, (user, items) in enumerate(zip(user_ids, item_lists)):
        line = row + 2
        if not user:
            raise DataError("empty user id", path=path, line=line, field="UserId")
        if user in seen:
            raise DataError(f"user {user!r} already listed on line {seen[user] + 2}", path=path, line=line, field="UserId")
        if not items:
            raise DataError(f"user {user!r} has no items", path=path, line=line, field="ItemId")
        seen[user] = row
    return user_ids.astype(str), item_lists


def first_seen_ids(*item_lists: list[list[str]]) -> np.ndarray:
    """Distinct item ids in order of first appearance across the given lists (the homework's id mapping)."""
    order: dict[str, None] = {}
    for lists in item_lists:
        for items in lists:
            order.update(dict.fromkeys(items))
    return np.array(list(order), dtype=str)


def load_kaggle(path: str | Path, *, catalog: Catalog | None = None) -> Dataset:
    """One row per user; ids kept as strings; users and (without `catalog`) items indexed in first-seen order."""
    path = Path(path)
    user_ids, item_lists = read_kaggle_lists(path)
    if catalog is None:
        catalog = Catalog.from_ids(first_seen_ids(item_lists), name=path.stem)
    flat = [i for items in item_lists for i in items]
    users = np.repeat(np.arange(len(user_ids)), [len(x) for x in item_lists])
    items = catalog.index_of(flat)
    if (items < 0).any():
        k = int(np.flatnonzero(items < 0)[0])
        raise DataError(f"item id {flat[k]!r} is not in the catalog", path=path, line=int(users[k]) + 2, field="ItemId")
    inter = Interactions.from_arrays(users, items, n_users=len(user_ids), n_items=catalog.n_items, user_ids=user_ids)
    return Dataset(name=path.stem, catalog=catalog, interactions=inter)


def write_submission(path: str | Path, user_ids: np.ndarray, recommended: np.ndarray, catalog: Catalog) -> Path:
    """Write `UserId,ItemId` with the top-K external item ids space-separated (−1 slots skipped), atomically."""
    recommended = np.asarray(recommended)
    if recommended.shape[0] != len(user_ids):
        raise ValueError(f"{recommended.shape[0]} recommendation rows for {len(user_ids)} users")
    ext = np.asarray(catalog.item_ids).astype(str)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("UserId,ItemId\n")
        for user, row in zip(user_ids, recommended):
            fh.write(f"{user},{' '.join(ext[row[row >= 0]])}\n")
    return Path(path)
