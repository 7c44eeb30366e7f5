"""Where real datasets live: an explicit option, else the NEGREC_DATA_DIR environment variable."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "NEGREC_DATA_DIR"


def data_root(option: str | Path | None = None) -> Path | None:
    """Return the data root from `option` or $NEGREC_DATA_DIR, or None when neither is set."""
    value = option if option is not None else os.environ.get(ENV_VAR)
    return None if value in (None, "") else Path(value).expanduser()


def dataset_dir(name: str, option: str | Path | None = None) -> Path:
    """Resolve a dataset folder: `option` if it is that folder, else `<data root>/<name>`."""
    if option is not None and Path(option).is_dir() and not (Path(option) / name).is_dir():
        return Path(option)
    root = data_root(option)
    if root is None:
        raise FileNotFoundError(f"no data folder given for '{name}': pass a path or set {ENV_VAR} (e.g. ../shared/data)")
    path = root / name
    if not path.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {path}")
    return path
