"""Long LLM stages over many records: chunk files written as they finish, resume, shards, merge.

Records are cut into fixed-size chunks; shard i of n owns the chunks whose index ≡ i (mod n). A chunk is
written atomically (temp file + rename) only when complete, so an interrupted run leaves complete
chunks only and a rerun does just the missing ones. Every chunk draws its randomness from a seed derived
from (seed, chunk index), so resumed, sharded and uninterrupted runs write the same records. Under
`accelerate launch` / torchrun with several processes, process r of n runs shard r/n and rank 0 merges once
every chunk is there: the same file, byte for byte, as one process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from negrec.data.io import fingerprint, read_json, read_records, write_json, write_jsonl
from negrec.errors import DataError
from negrec.launch import launch_rank, wait_until

ChunkFn = Callable[[Sequence[dict], int], list[dict]]  # (records of the chunk, chunk index) → output records


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' → (i, n) with 0 ≤ i < n."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"--shard {text}: need 0 ≤ i < n")
    return i, n


@dataclass(frozen=True)
class Share:
    """This process's share of a chunked stage: shard `part` = (i, n); a follower (rank > 0 of a launch) leaves the
    merge to rank 0, which waits for every process's chunks when `launched`."""

    part: tuple[int, int]
    launched: bool

    @property
    def follower(self) -> bool:
        return self.launched and self.part[0] > 0


def this_share(shard: str) -> Share:
    """The share of `--shard i/n`, or of this process's rank under a multi-process launch (`--shard` must then be
    left at 0/1: both would split the records)."""
    part, launched = parse_shard(shard), launch_rank()
    if launched is not None and part != (0, 1):
        raise ValueError("--shard and a multi-process launch both split the records: use one of them")
    return Share(launched or part, launched is not None)


def finish_share(work_dir: Path, out: Path, share: Share) -> int | None:
    """After this share's chunks: merge into `out` when every chunk exists (rank 0 of a launch first waits for the
    other processes); the number of records merged, or None when chunks of other shards are still missing (or this
    process is a follower)."""
    if share.follower:
        return None
    if share.launched:
        wait_for_all_chunks(work_dir)
    try:
        return merge_chunks(work_dir, out)
    except DataError:  # other shards still running is normal: the caller reports it
        if share.launched:
            raise
        return None


def chunk_path(work_dir: Path, index: int) -> Path:
    """File of one chunk."""
    return work_dir / f"chunk_{index:05d}.jsonl"


def run_chunks(
    records: Sequence[dict],
    work_dir: str | Path,
    fn: ChunkFn,
    *,
    settings: Any,
    chunk_size: int = 100,
    shard: tuple[int, int] = (0, 1),
    overwrite: bool = False,
    progress: Callable[[Iterable[int]], Iterable[int]] | None = None,
    follower: bool = False,
    wait_seconds: float = 24 * 3600,
) -> list[Path]:
    """Process this shard's missing chunks; return the chunk files this shard owns.

    The plan records a fingerprint of the records and of `settings` (everything else the output depends on: the
    model's file signature, the catalog, the stage's options). Chunks made under another plan are never reused: a
    mismatch is refused, or with `overwrite` the old chunks are deleted and the work starts over. A `follower`
    (rank > 0 of a multi-process launch) leaves the plan to rank 0 and waits until it is written."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    n_chunks = (len(records) + chunk_size - 1) // chunk_size
    plan = {"records": len(records), "chunk_size": chunk_size, "chunks": n_chunks, "fingerprint": fingerprint(records, settings)}
    # the settings in plain view (the catalog's titles only by the fingerprint): a mismatch can then be named
    shown = {k: v for k, v in settings.items() if k != "titles"} if isinstance(settings, dict) else {"settings": settings}
    plan["settings"] = json.loads(json.dumps(shown, default=str))
    if follower:
        wait_until(
            lambda: (work_dir / "plan.json").is_file() and read_json(work_dir / "plan.json") == plan,
            f"rank 0 to write this stage's plan in {work_dir}",
            wait_seconds,
        )
        return _run_mine(records, work_dir, fn, n_chunks, chunk_size, shard, progress)
    old = read_json(work_dir / "plan.json") if (work_dir / "plan.json").is_file() else None
    if old is not None and old != plan:
        if not overwrite:
            raise DataError(
                f"its chunks were made from other {_plan_difference(old, plan)}; rerun with --overwrite to start "
                "over, or give another --work-dir",
                path=work_dir,
            )
        for stale in work_dir.glob("chunk_*.jsonl"):
            stale.unlink()
    write_json(work_dir / "plan.json", plan)
    return _run_mine(records, work_dir, fn, n_chunks, chunk_size, shard, progress)


def _plan_difference(old: dict, new: dict) -> str:
    """What differs between two chunk plans, named where the old plan records its settings."""
    before, now = old.get("settings"), new["settings"]
    if before is None:  # a plan written before settings were recorded
        return "records, model or options"
    changed = [f"{k} ({before.get(k)!r} → {now.get(k)!r})" for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    changed += [f"{k} ({old.get(k)} → {new[k]})" for k in ("records", "chunk_size") if old.get(k) != new[k]]
    return "settings: " + ", ".join(changed) if changed else "records or catalog titles (same count, other content)"


def _run_mine(
    records, work_dir: Path, fn: ChunkFn, n_chunks: int, chunk_size: int, shard: tuple[int, int], progress
) -> list[Path]:
    """Write this shard's missing chunks (index ≡ shard (mod shards)); return the files it owns."""
    mine = [c for c in range(n_chunks) if c % shard[1] == shard[0]]
    todo = [c for c in mine if not chunk_path(work_dir, c).is_file()]
    for c in progress(todo) if progress else todo:
        write_jsonl(chunk_path(work_dir, c), fn(records[c * chunk_size : (c + 1) * chunk_size], c))
    return [chunk_path(work_dir, c) for c in mine]


def wait_for_all_chunks(work_dir: str | Path, wait_seconds: float = 24 * 3600) -> None:
    """Rank 0 of a multi-process launch: wait until the other ranks have written their chunks."""
    work_dir = Path(work_dir)
    n_chunks = read_json(work_dir / "plan.json")["chunks"]
    wait_until(
        lambda: all(chunk_path(work_dir, c).is_file() for c in range(n_chunks)),
        f"the other processes' chunks in {work_dir}",
        wait_seconds,
    )


def merge_chunks(work_dir: str | Path, out: str | Path, *, as_jsonl: bool | None = None) -> int:
    """Join every chunk in order into `out` (JSON array, or JSONL for a .jsonl name); refuse if one is missing."""
    work_dir = Path(work_dir)
    plan = json.loads((work_dir / "plan.json").read_text()) if (work_dir / "plan.json").is_file() else None
    if plan is None:
        raise DataError("no plan.json: not a chunk folder", path=work_dir)
    missing = [c for c in range(plan["chunks"]) if not chunk_path(work_dir, c).is_file()]
    if missing:
        raise DataError(
            f"{len(missing)} chunks missing (first: {chunk_path(work_dir, missing[0]).name}); run the remaining shards",
            path=work_dir,
        )
    rows: list[dict] = []
    for c in range(plan["chunks"]):
        rows += read_records(chunk_path(work_dir, c))[0]
    out = Path(out)
    jsonl = out.suffix == ".jsonl" if as_jsonl is None else as_jsonl
    (write_jsonl if jsonl else write_json)(out, rows)
    return len(rows)


def run_and_merge(records: Sequence[dict], work_dir: Path, fn: ChunkFn, settings: Any, out: Path, chunk_size: int = 100) -> None:
    """`fn` over `records` in chunk files of a folder the caller owns (chunks of other inputs are dropped), merged into
    `out`; under a multi-process launch each process takes the chunks of its rank and rank 0 merges once all exist."""
    launched = launch_rank()
    shard = launched or (0, 1)
    run_chunks(
        records, work_dir, fn, settings=settings, chunk_size=chunk_size, overwrite=True, shard=shard, follower=shard[0] > 0
    )
    if shard[0] == 0:
        if launched is not None:
            wait_for_all_chunks(work_dir)
        merge_chunks(work_dir, out)
