"""Experiment tracking (`--report-to tensorboard`): CF runs and LLM stages write TensorBoard event files in their run
folder, read back here with TensorBoard's own reader and compared with the run's own logs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from negrec.cli import app  # noqa: E402
from negrec.data.io import write_json  # noqa: E402


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)]} of every event file under `folder`."""
    out: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(folder.rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return out


def test_a_cf_run_tracks_its_epochs_and_test_metrics(tmp_path):
    result = CliRunner().invoke(
        app,
        ["cf", "train", "--dataset", "synthetic", "--epochs", "3", "--report-to", "tensorboard", "--out", str(tmp_path / "run")],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    got = scalars(tmp_path / "run" / "tensorboard")
    assert [s for s, _ in got["train/loss"]] == [0, 1, 2]
    assert [v for _, v in got["train/loss"]] == pytest.approx([h["loss"] for h in saved["history"]], rel=1e-6)
    assert [v for _, v in got["train/rejection_rate"]] == pytest.approx([h["rejection_rate"] for h in saved["history"]])
    assert [v for _, v in got["train/NDCG@10"]] == pytest.approx([h["NDCG@10"] for h in saved["history"]])  # validation
    assert got["test/NDCG@10"][0][1] == pytest.approx(saved["test"]["NDCG@10"]["mean"], rel=1e-6)


def test_an_llm_stage_reports_to_tensorboard_and_the_tracker_does_not_block_a_resume(tiny, tmp_path):
    pytest.importorskip("trl")
    data, _, _, model = tiny
    write_json(tmp_path / "records.json", data.records["train"][:16])
    args = [
        "llm",
        "sft",
        "--model",
        str(model),
        "--records",
        str(tmp_path / "records.json"),
        "--out",
        str(tmp_path / "sft"),
        "--batch-size",
        "8",
        "--max-steps",
        "2",
    ]
    result = CliRunner().invoke(app, [*args, "--report-to", "tensorboard"], terminal_width=300)
    assert result.exit_code == 0, result.output
    logged = [json.loads(x)["loss"] for x in (tmp_path / "sft" / "log.jsonl").read_text().splitlines()]
    got = scalars(tmp_path / "sft" / "runs")
    assert [v for _, v in got["train/loss"]] == pytest.approx(logged, rel=1e-5)
    again = CliRunner().invoke(app, [*args, "--resume"], terminal_width=300)  # another tracker: still the same run
    assert again.exit_code == 0, again.output
