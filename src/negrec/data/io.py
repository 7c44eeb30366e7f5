"""File helpers: JSON/JSONL records with located errors, atomic writes, CSV reads with line numbers."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from negrec.data.outputs import through_link
from negrec.errors import DataError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds (through a symbolic
    link: the file it names is replaced, the link kept)."""
    path = through_link(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; the final file gets the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc  # a failed write names no file: say which
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | Path, text: str) -> Path:
    """Write text atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def save_torch(obj: Any, path: str | Path) -> Path:
    """`torch.save` whole or not at all. Serialised in memory first: torch's own writer reports a full disk as a
    RuntimeError with no errno, which would read as negrec's fault; a plain file write raises the OSError it is."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return write_bytes(path, buffer.getvalue())


def write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """Write strict JSON atomically: numpy scalars and arrays are converted, NaN becomes null."""
    return write_text(path, json.dumps(_plain(obj), indent=indent, ensure_ascii=False, allow_nan=False) + "\n")


def write_jsonl(path: str | Path, records: Sequence[Any]) -> Path:
    """Write JSON Lines atomically."""
    return write_text(path, "".join(json.dumps(_plain(r), ensure_ascii=False, allow_nan=False) + "\n" for r in records))


def _plain(obj: Any) -> Any:
    """JSON-ready copy: numpy → Python, NaN/inf → None, tuples → lists."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def read_utf8(path: str | Path) -> str:
    """The text of a file that must exist and be UTF-8; either failure names the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start}: {exc.reason})", path=path) from None


def read_json(path: str | Path) -> Any:
    """Load a JSON document; a syntax error names the file and line."""
    path = Path(path)
    text = read_utf8(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno) from None


MAX_YAML_BYTES, MAX_YAML_NODES, MAX_YAML_DEPTH = 200_000, 100_000, 32


def read_yaml_mapping(path: str | Path, kind: str = "a config file") -> dict:
    """A small YAML file that must hold a mapping (a recipe, a config file, a search space): too large a file, an
    alias bomb, malformed YAML or another shape is refused naming the file."""
    import yaml

    path = Path(path)
    if path.is_file() and path.stat().st_size > MAX_YAML_BYTES:
        raise DataError(f"{kind} is at most {MAX_YAML_BYTES // 1000} kB", path=path)
    text = read_utf8(path)
    try:
        _check_expansion(yaml.compose(text), path)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(f"malformed YAML: {exc}", path=path) from None
    if not isinstance(raw, dict):
        raise DataError(f"{kind} is a mapping", path=path)
    return raw


def _check_expansion(root, path: Path) -> None:
    """Count what the YAML node graph expands to before it is built: aliases share nodes, so a few hundred bytes
    can name billions of values (an alias bomb); refuse past MAX_YAML_NODES values or MAX_YAML_DEPTH levels."""
    if root is None:
        return
    sizes: dict[int, int] = {}

    def size(node, depth: int) -> int:
        if depth > MAX_YAML_DEPTH:
            raise DataError(f"nests deeper than {MAX_YAML_DEPTH} levels", path=path)
        if id(node) in sizes:
            return sizes[id(node)]
        children = node.value if isinstance(node.value, list) else []
        flat = [c for pair in children for c in (pair if isinstance(pair, tuple) else (pair,))]
        total = 1
        for child in flat:
            total += size(child, depth + 1)
            if total > MAX_YAML_NODES:
                raise DataError(f"expands to more than {MAX_YAML_NODES} values (YAML aliases?)", path=path)
        sizes[id(node)] = total
        return total

    size(root, 0)


def read_records(path: str | Path, text_fields: Sequence[str] = ()) -> tuple[list[dict], list[int] | None]:
    """Records from a JSON array or a JSONL file, and each record's line number (JSONL only); each of `text_fields`
    must be a string in every record (the error names the record, line and field)."""
    path = Path(path)
    text = read_utf8(path)
    if text.lstrip().startswith("["):
        data = read_json(path)
        if not isinstance(data, list):
            raise DataError("expected a JSON array of records", path=path)
        lines = None
    else:
        data, lines = [], []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"malformed JSON line: {exc.msg} (column {exc.colno})", path=path, line=lineno) from None
            lines.append(lineno)
    if not data:
        raise DataError("no records (an empty file or array)", path=path)
    for k, rec in enumerate(data):
        line = lines[k] if lines else None
        if not isinstance(rec, dict):
            raise DataError(f"expected an object, got {type(rec).__name__}", path=path, record=k, line=line)
        for key in text_fields:
            if not isinstance(rec.get(key), str):
                raise DataError("missing or not a string", path=path, record=k, line=line, field=key)
    return data, lines


def read_csv(
    path: str | Path, *, sep: str = ",", header: bool = True, names: Sequence[str] | None = None, encoding: str = "utf-8-sig"
) -> pd.DataFrame:
    """Read a delimited file as strings (a UTF-8 byte-order mark skipped), keeping blank lines so row k sits on a known
    file line."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    try:
        return pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            names=names,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding=encoding,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        raise DataError("empty file", path=path) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"malformed line: {exc}", path=path) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot decode as {encoding}: {exc.reason}", path=path) from None


def numeric_column(frame: pd.DataFrame, column: str, path: str | Path, *, first_line: int, kind: str = "float") -> np.ndarray:
    """Column as numbers; the first unparsable value raises a DataError with its file line."""
    if column not in frame.columns:
        raise missing_column(frame, column, path)
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if kind == "int":
        bad |= np.isfinite(values) & (values % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        shown = raw.iloc[row]
        raise DataError(
            f"expected a number, got {shown!r}" if shown != "" else "empty value", path=path, line=row + first_line, field=column
        )
    # integers beyond 2^53 are not exact in float64 (and beyond 2^63 would wrap); ratings must fit the float32 matrix
    limit, what = (
        (2.0**53, "an integer of at most 2^53")
        if kind == "int"
        else (float(np.finfo(np.float32).max), "a value float32 can hold")
    )
    huge = np.abs(values) >= limit
    if huge.any():
        row = int(np.flatnonzero(huge)[0])
        raise DataError(f"{raw.iloc[row]!r} is out of range (expected {what})", path=path, line=row + first_line, field=column)
    return values.astype(np.int64) if kind == "int" else values


def missing_column(frame: pd.DataFrame, column: str, path: str | Path) -> DataError:
    """The error for a column the file lacks: the columns it has, and the options that name columns."""
    return DataError(
        f"missing column (have {list(frame.columns)}; name yours with --user-col, --item-col, --rating-col, --time-col)",
        path=path,
        field=column,
    )


def text_column(frame: pd.DataFrame, column: str, path: str | Path, *, first_line: int) -> np.ndarray:
    """Column as non-empty strings; an empty value raises a DataError with its file line."""
    if column not in frame.columns:
        raise missing_column(frame, column, path)
    values = frame[column].to_numpy(dtype=object)
    empty = np.fromiter((not str(v).strip() for v in values), dtype=bool, count=len(values))
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise DataError("empty value", path=path, line=row + first_line, field=column)
    return np.array([str(v).strip() for v in values], dtype=object)


def fingerprint(*parts: Any) -> str:
    """A short content hash of JSON-able parts (records, settings, file signatures): equal inputs, equal hash."""
    digest = hashlib.sha256(json.dumps([_plain(p) for p in parts], sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()[:16]


def arrays_fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of arrays' shapes and int64 contents (e.g. a split's sparse matrices): equal data, equal hash."""
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=np.int64)
        digest.update(np.asarray(a.shape, dtype=np.int64).tobytes())
        digest.update(a.tobytes())
    return digest.hexdigest()[:16]


# Files up to this size are hashed whole (≈ 0.3 s at 256 MiB); larger ones (multi-GB weights) through their edges and
# evenly spaced blocks, so that a change to any tensor bigger than the spacing is still seen. Hashing only the edges
# missed weights changed in the middle of a model file (the title-token rows of a tiny model's embedding, its inner
# layers), and resume and the chunk caches then took another model for the same one.
WHOLE_FILE_BYTES = 256 * 2**20
EDGE_BYTES, BLOCKS, BLOCK_BYTES = 2**20, 1024, 2**16


def folder_signature(folder: str | Path) -> list[tuple[str, int, str]]:
    """(name, size, content hash) of every file under `folder`, in name order (see `file_signature`)."""
    folder = Path(folder)
    return [
        (path.relative_to(folder).as_posix(), *file_signature(path))
        for path in sorted(p for p in folder.rglob("*") if p.is_file())
    ]


def file_signature(path: str | Path) -> tuple[int, str]:
    """(size, hash) of one file: of all its bytes up to WHOLE_FILE_BYTES, beyond that of its first and last MiB and
    1,024 evenly spaced 64 KiB blocks (65 MiB read whatever the size)."""
    size = Path(path).stat().st_size
    with open(path, "rb") as fh:
        if size <= WHOLE_FILE_BYTES:
            return size, hashlib.file_digest(fh, "sha256").hexdigest()[:16]
        digest = hashlib.sha256()
        starts = [0, *(EDGE_BYTES + k * (size - 2 * EDGE_BYTES) // BLOCKS for k in range(BLOCKS)), size - EDGE_BYTES]
        for start, length in zip(starts, [EDGE_BYTES, *[BLOCK_BYTES] * BLOCKS, EDGE_BYTES]):
            fh.seek(start)
            digest.update(fh.read(length))
    return size, digest.hexdigest()[:16]
