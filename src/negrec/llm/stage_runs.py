"""A training stage's run folder: what the run is made of (options and fingerprints of its inputs) recorded in
`config.json` before training, a rerun that resumes only the same run, and `final/` written as a unit.

Why fingerprints and not paths: a rerun with another `--lr`, another records file under the same name or a retrained
starting model would otherwise resume the old checkpoints and end as the old run while the folder claimed the new
settings."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

from negrec.data.io import fingerprint, folder_signature, read_json, write_json
from negrec.data.outputs import MARKER
from negrec.errors import DataError

CONFIG = "config.json"
RESULT = "result"  # filled in when the stage ends: steps taken, training seconds, why it stopped
# not compared on resume: where the inputs were (their content fingerprints decide) and where progress is reported
NOT_COMPARED = ("model", "reference", "stage_files", "report_to")
# recorded since 2026-12-04: a run recorded before has none and resumes. Torch's intra-op thread count changes the order
# of float sums, so the same run on another count ends at another model (measured: SFT weights 0.12 apart at step 200)
RECORDED_LATER = ("threads",)
KIND = "llm training run"  # the marker of a training run folder (see data.outputs.claim_output)


def model_fingerprint(model_dir: str | Path) -> str:
    """Content fingerprint of a model folder (every file's size and content hash)."""
    return fingerprint(folder_signature(model_dir))


def stage_record(stage: str, settings: Any, *, model: str | Path, data: Sequence[Any], **inputs: Any) -> dict:
    """What a stage's output depends on: the stage, its settings, the starting model's content, the training data
    (fingerprinted) and any further inputs (paths are fingerprinted by content, other values kept as they are)."""
    from dataclasses import asdict

    import torch

    record = {
        "stage": stage,
        "threads": torch.get_num_threads(),
        "model": str(model),
        "model_files": model_fingerprint(model),
        "data": fingerprint(list(data)),
        "data_records": len(data),
    }
    for key, value in inputs.items():
        if isinstance(value, Path) and value.is_dir():
            record[key], record[f"{key}_files"] = str(value), model_fingerprint(value)
        else:
            record[key] = value
    return {**record, **asdict(settings)}


def differences(old: dict, new: dict) -> list[str]:
    """'key: old → new' for every recorded option or input that differs (content fingerprints named as such)."""
    out = []
    for key in sorted(old.keys() | new.keys()):
        if key in NOT_COMPARED or key == RESULT or old.get(key) == new.get(key) or (key in RECORDED_LATER and key not in old):
            continue
        if key == "threads":
            hint = f"another count sums in another order; `negrec --threads {old[key]}` resumes it"
            out.append(f"threads: {old[key]} → {new.get(key)} ({hint})")
        elif key.endswith("_files") or key == "data":
            out.append(f"{key.removesuffix('_files')}: other content ({old.get(key)} → {new.get(key)})")
        else:
            out.append(f"{key}: {old.get(key, '(unset)')!r} → {new.get(key, '(unset)')!r}")
    return out


def finished(out: str | Path) -> bool:
    """The stage's `final/` model is complete (it is renamed into place only once written)."""
    return (Path(out) / "final").is_dir()


def begin_stage(out: str | Path, record: dict) -> bool:
    """Claim `out` for the run `record` describes, before any training: a folder of the same run resumes (True when
    it is finished already), one made by another run is refused naming each difference; a new one gets the record
    and the marker. Every process of a launch compares before rank 0 writes."""
    from negrec.launch import is_main_process, processes_barrier

    out = Path(out)
    stored = out / CONFIG
    done = False
    if stored.is_file():
        changed = differences(read_json(stored), record)
        if changed:
            raise DataError(
                "holds a run made with other options or inputs: " + "; ".join(changed) + ". Rerun with its "
                "options to resume it, or start over with --overwrite / another --out",
                path=out,
            )
        done = finished(out)
    elif any(out.glob("checkpoint-*")) or finished(out):
        raise DataError(
            f"holds a training run without its {CONFIG} (its options are unknown, so it cannot be "
            "resumed); start over with --overwrite or use another --out",
            path=out,
        )
    processes_barrier()
    if is_main_process() and not stored.is_file():
        out.mkdir(parents=True, exist_ok=True)
        write_json(stored, record)
        (out / MARKER).write_text(KIND + "\n", encoding="utf-8")
    return done


def save_final(out: Path, model, tokenizer, settings: dict) -> Path:
    """Write `out/final` as a unit: model, tokenizer and negrec's settings file go to a hidden sibling renamed into
    place last, so a kill mid-save leaves no folder that looks finished."""
    from negrec.llm.models import SETTINGS_FILE

    final, tmp = out / "final", out / ".final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    write_json(tmp / SETTINGS_FILE, settings)  # what later stages need (the template above all) travels with the model
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def record_result(out: Path, result: dict) -> None:
    """Add what the run got (steps, training seconds, stop reason) to its config.json."""
    stored = out / CONFIG
    write_json(stored, {**read_json(stored), RESULT: result})
