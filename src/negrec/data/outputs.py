"""Output folders that cannot be half-written or written twice at once: a writer lock, and folders written as a
unit (temporary sibling + rename). Standard library only, so command modules can import it at no cost."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from negrec.errors import DataError


def _take_lock(lock: Path, target: Path) -> None:
    """Create `lock` holding this process id; a lock whose process is gone (a killed writer) is taken over."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            owner = lock.read_text(encoding="utf-8").strip()
            if owner.isdigit() and _alive(int(owner)):
                raise DataError(f"process {owner} is writing it (lock {lock.name})", path=target) from None
            lock.unlink(missing_ok=True)
            continue
        except OSError as exc:
            raise DataError(f"cannot write there: {exc.strerror}", path=target) from None
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return
    raise DataError(f"cannot take the lock {lock.name}", path=target)


def _alive(pid: int) -> bool:
    """Whether a process runs: a killed writer not yet reaped by its parent (a zombie) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # no /proc (not Linux): trust the signal test
        return True
    return "\nState:\tZ" not in status


@contextmanager
def writer_lock(path: str | Path) -> Iterator[Path]:
    """Hold `.<name>.lock` beside `path` for the block: a second live writer to the same output is refused (a lock
    left by a killed writer is taken over). For outputs that resume in place, such as training run folders."""
    from negrec.launch import is_main_process

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the parent folder: {exc.strerror}", path=path) from None
    if not is_main_process():  # the other processes of a launch write beside rank 0, which holds the lock
        yield path
        return
    lock = path.with_name(f".{path.name}.lock")
    _take_lock(lock, path)
    try:
        yield path
    finally:
        lock.unlink(missing_ok=True)


def through_link(path: str | Path) -> Path:
    """Where an output is written: the place a symbolic link names (renaming the link itself aside would replace the
    link by a folder and leave the old one behind under a dangling `.old` link)."""
    path = Path(path)
    return path.resolve() if path.is_symlink() else path


MARKER = ".negrec-output"  # inside every folder a command writes as a unit: which kind of output it is


def check_writable(path: str | Path) -> None:
    """Refuse an output whose location this user cannot write: the folder itself when it exists, else its nearest
    existing parent (which would receive the new file or folder)."""
    path = Path(path)
    place = path if path.is_dir() else path.parent
    while not place.exists() and place != place.parent:
        place = place.parent
    if place.exists() and not place.is_dir():
        raise DataError(f"cannot create the parent folder: {place} is a file", path=path)
    if place.exists() and not os.access(place, os.W_OK | os.X_OK):
        raise DataError(f"cannot write there: {place} is not writable", path=path)


def _marker(folder: Path) -> str | None:
    """The kind of output a negrec command wrote into `folder` (None: no marker)."""
    marker = folder / MARKER
    return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_not_input(path: Path, inputs: Iterable[str | Path | None], option: str = "--out") -> None:
    """Refuse an output that is one of the inputs or holds one of them, or that cannot be written (checked before any
    work, so a read-only location fails at once instead of after training)."""
    check_writable(path)
    target = path.resolve()
    for given in inputs:
        if given is None or not Path(given).exists():
            continue
        source = Path(given).resolve()
        if _inside(source, target):
            what = "is" if source == target else f"holds {given}, which is"
            raise DataError(f"{option} {what} an input of this command; write the output elsewhere", path=path)


@contextmanager
def replaceable_run(
    path: str | Path,
    *,
    resume: bool,
    overwrite: bool,
    kind: str,
    inputs: Iterable[str | Path | None] = (),
    resumable: bool = True,
) -> Iterator[Path]:
    """Claim a run folder that resumes in place (training stages, recipes): a new or empty one is used; an existing one
    only with `resume` (the stage then checks that it is the same run; commands that cannot resume pass
    `resumable=False`) or `overwrite` (a folder of this `kind` only, moved aside and deleted once the new run has
    succeeded, so a failed or killed run leaves the old one whole)."""
    path = through_link(path)
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other: choose one")
    check_not_input(path, inputs)
    aside = path.with_name(f".{path.name}.replaced")
    if path.is_dir() and not any(path.iterdir()):
        path.rmdir()
    if path.exists() and overwrite:
        claim_output(path, overwrite=True, kind=kind)
        if aside.exists():  # a killed --overwrite: the folder is its incomplete run; the run it replaces is kept aside
            shutil.rmtree(path)
        else:
            path.rename(aside)
    elif path.exists() and not resume:
        if not resumable:
            raise DataError("exists; pass --overwrite to replace it, or choose another --out", path=path)
        raise DataError(
            "holds a run; pass --resume to continue it (same options and inputs) or --overwrite to start "
            "over, or choose another --out",
            path=path,
        )
    elif path.exists() and _marker(path) != kind:
        raise DataError(f"is not a {kind} folder negrec wrote; --resume continues only such a folder", path=path)
    yield path
    shutil.rmtree(aside, ignore_errors=True)


def claim_output(
    path: str | Path, *, overwrite: bool, inputs: Iterable[str | Path | None] = (), kind: str | None = None, option: str = "--out"
) -> Path:
    """Check an output before any work is done: it is none of the inputs and holds none of them; an existing one is
    replaced only with `overwrite`, and an existing folder only when this kind of command wrote it (its marker
    names `kind`) — so a mistyped --out never deletes a dataset or somebody's notes."""
    path = through_link(path)
    check_not_input(path, inputs, option)
    if not path.exists():
        return path
    if kind is not None and not path.is_dir():
        raise DataError("exists and is not a folder", path=path)
    if not overwrite:
        raise DataError(f"exists; pass --overwrite to replace it, or choose another {option}", path=path)
    if path.is_dir() and kind is not None:
        found = _marker(path)
        if found != kind:
            what = f"a {found} folder" if found else "not a folder negrec wrote"
            raise DataError(f"is {what}; --overwrite replaces only a {kind} folder", path=path)
    return path


def final_name(folder: str | Path) -> str:
    """The name a folder has once in place: `atomic_dir` fills `.NAME.tmp`, which becomes NAME."""
    name = Path(folder).name
    return name[1:-4] if name.startswith(".") and name.endswith(".tmp") and len(name) > 5 else name


@contextmanager
def atomic_dir(path: str | Path, *, kind: str | None = None, new: bool = False) -> Iterator[Path]:
    """Write a folder as a unit: the block fills a hidden sibling, which replaces `path` only when the block succeeds
    (an earlier folder stays whole until then); `kind` is written into its marker (see `claim_output`). A lock
    refuses a second live writer; what a killed writer left (its lock, temporary folder, or an earlier folder moved
    aside) is cleaned up or put back first. `new`: the caller claimed `path` as a new output (no --overwrite), so a
    folder that appeared while the block ran — another command's — is refused, not replaced."""
    path = through_link(path)
    if path.exists() and not path.is_dir():
        raise DataError("exists and is not a folder", path=path)
    tmp, old = (path.with_name(f".{path.name}.{suffix}") for suffix in ("tmp", "old"))
    with writer_lock(path):
        if old.exists() and not path.exists():  # killed between the two renames below: the earlier folder comes back
            old.rename(path)
        for leftover in (tmp, old):
            shutil.rmtree(leftover, ignore_errors=True)
        tmp.mkdir()
        if kind is not None:
            (tmp / MARKER).write_text(kind + "\n", encoding="utf-8")
        try:
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if path.exists() and new:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DataError("appeared while this command ran (another command wrote it); nothing was replaced", path=path)
        if path.exists():
            path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)
