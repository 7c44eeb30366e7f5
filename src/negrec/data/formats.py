"""Find and load a dataset by folder/file and format name; `auto` detects the format from the files present."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from negrec.data.paths import data_root
from negrec.errors import DataError

Format = Literal["auto", "movielens-100k", "ml-latest-small", "goodreads", "kaggle", "sasrec", "table", "synthetic"]
DATA_SUFFIXES = {".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl"}
FORMATS = ["auto", "movielens-100k", "ml-latest-small", "goodreads", "kaggle", "sasrec", "table", "synthetic"]
# folder names of ../shared/data, so `negrec data info movielens-100k` works with NEGREC_DATA_DIR set
KNOWN_FOLDERS = {
    "movielens-100k": "movielens-100k",
    "ml-latest-small": "movielens-latest-small",
    "goodreads": "goodreads",
    "ml-1m": "movielens-1m-sasrec",
}


def resolve_source(source: str, data_dir: str | Path | None = None) -> Path:
    """A path as given if it exists, else `<data root>/<source>` (known aliases included)."""
    path = Path(source).expanduser()
    if path.exists():
        return path
    root = data_root(data_dir)
    if root is not None:
        for name in (source, KNOWN_FOLDERS.get(source, source)):
            if (root / name).exists():
                return root / name
    if root is None:
        raise DataError("no such file or dataset (set NEGREC_DATA_DIR or pass --data-dir)", path=source)
    names = (
        sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and (p.is_dir() or p.suffix in DATA_SUFFIXES))
        if root.is_dir()
        else []
    )
    close = difflib.get_close_matches(source, names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(f"no such file or dataset{hint}; datasets under {root}: {', '.join(names) or 'none'}", path=source)


def detect_format(path: Path) -> str:
    """Guess the format of a folder or file from its contents."""
    if path.is_dir():
        if (path / "u.data").is_file():
            return "movielens-100k"
        if (path / "ratings.csv").is_file() and (path / "movies.csv").is_file():
            return "ml-latest-small"
        if (path / "id2name.json").is_file():
            return "goodreads"
        if any(_user_item_lines(p) for p in path.glob("*.txt")):
            return "sasrec"
        raise DataError("cannot tell the dataset format of this folder; pass --format", path=path)
    if path.suffix.lower() == ".txt" and _user_item_lines(path):
        return "sasrec"
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig") as fh:  # a BOM (spreadsheets write one) is not part of the header
            header = fh.readline().strip().split(",")
        if header[:2] == ["UserId", "ItemId"]:
            return "kaggle"
    return "table"


def _user_item_lines(path: Path) -> bool:
    """Whether a file starts like the SASRec benchmark files: `user item`, two integers."""
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline().split()
    except (OSError, UnicodeDecodeError):
        return False
    return len(first) == 2 and all(x.isdigit() for x in first)
