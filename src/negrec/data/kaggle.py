"""The course-homework Kaggle format: `UserId,ItemId` rows with space-separated item ids, and its submission file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

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
    if frame.empty:
        raise DataError("no users (only a header)", path=path)
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
    return write_kaggle_lists(path, [str(u) for u in user_ids], [ext[row[row >= 0]].tolist() for row in recommended])


def submission_problems(
    path: str | Path, user_ids: Sequence[str], known: Sequence[Sequence[str]], item_ids: Sequence[str], k: int, *, source: str
) -> list[str]:
    """Every way a submission breaks the homework's rules, one line each, in file order: the header, one row per
    input user, exactly `k` distinct item ids that exist in the input, none already known for that user
    (`known[u]` aligns with `user_ids`; `source` names the input in the messages)."""
    path = Path(path)
    frame = read_csv(path)
    if list(frame.columns) != ["UserId", "ItemId"]:
        return [f"{path}, line 1: header is {','.join(map(str, frame.columns))!r}, expected 'UserId,ItemId'"]
    row_of = {user: row for row, user in enumerate(user_ids)}
    catalog = set(item_ids)
    problems: list[str] = []
    seen: dict[str, int] = {}
    for row, (user, items) in enumerate(zip(frame["UserId"].str.strip(), frame["ItemId"])):
        where = f"{path}, line {row + 2}"
        if user not in row_of:
            problems.append(f"{where}: user {user!r} is not in {source}")
            continue
        if user in seen:
            problems.append(f"{where}: user {user!r} already has a row on line {seen[user]}")
            continue
        seen[user] = row + 2
        ids = items.split()
        counts = Counter(ids)
        mine = set(known[row_of[user]])
        checks = [
            (len(ids) != k, f"{len(ids)} item ids, expected {k}"),
            (len(counts) < len(ids), "repeated item ids " + ", ".join(repr(i) for i, c in counts.items() if c > 1)),
            (
                any(i not in catalog for i in counts),
                "item ids not in " + source + ": " + ", ".join(repr(i) for i in counts if i not in catalog),
            ),
            (
                any(i in mine for i in counts),
                f"items user {user!r} already has in {source}: " + ", ".join(repr(i) for i in counts if i in mine),
            ),
        ]
        problems += [f"{where}: {message}" for failed, message in checks if failed]
    missing = [user for user in user_ids if user not in seen]
    if missing:
        problems.append(f"{path}: {len(missing)} users of {source} have no row (first: {missing[0]!r})")
    return problems


def kaggle_lists(inter: Interactions, catalog: Catalog) -> tuple[list[str], list[list[str]]]:
    """External user ids and their item-id lists (in time order when there are timestamps), users without items left out."""
    ext = np.asarray(catalog.item_ids).astype(str)
    users, lists = [], []
    for u, items in enumerate(inter.timelines()):
        if len(items):
            users.append(str(inter.user_ids[u]))
            lists.append(ext[items].tolist())
    return users, lists


def write_kaggle_lists(path: str | Path, user_ids: Sequence[str], item_lists: Sequence[Sequence[str]]) -> Path:
    """Write `UserId,ItemId` rows with space-separated item ids, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("UserId,ItemId\n")
        for user, items in zip(user_ids, item_lists):
            fh.write(f"{user},{' '.join(items)}\n")
    return Path(path)
