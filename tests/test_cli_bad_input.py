"""Every command that reads a file, against the same set of bad files: a clear error naming the file, a non-zero
exit code, no traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import tiny_world
from negrec.cli import app
from negrec.data.io import write_json

runner = CliRunner()

BAD = {
    "missing": None,
    "empty": b"",
    "not-utf8": b'[{"input": "Horrorst\xf6r"}]',
    "malformed": b'[{"input": "a", ',
    "directory": "dir",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A catalog folder, a tiny model, and good files each command can take besides the bad one."""
    root = tmp_path_factory.mktemp("world")
    data, catalog, model = tiny_world(root)
    (root / "good.csv").write_text("UserId,ItemId\nu1,a b\n")
    write_json(root / "records.json", data.records["train"][:2])
    write_json(root / "predictions.json", [{"prediction": f'"{data.catalog.titles[i]}"'} for i in (3, 4)])
    return {
        "catalog": str(catalog),
        "model": str(model),
        "csv": str(root / "good.csv"),
        "records": str(root / "records.json"),
        "predictions": str(root / "predictions.json"),
    }


# each command with {bad} where the bad file goes and {out} for its output
COMMANDS = {
    "data info": ["data", "info", "{bad}"],
    "eval recs": ["eval", "--recs", "{bad}", "--truth", "{csv}"],
    "eval truth": ["eval", "--recs", "{csv}", "--truth", "{bad}"],
    "cf check-submission": ["cf", "check-submission", "{bad}", "--train", "{csv}"],
    "cf check-submission train": ["cf", "check-submission", "{csv}", "--train", "{bad}"],
    "cf recommend": ["cf", "recommend", "--run", "{bad}", "--out", "{out}"],
    "cf train": ["cf", "train", "--dataset", "{bad}", "--out", "{out}"],
    "negatives annotate": ["negatives", "annotate", "--candidates", "{bad}", "--catalog", "{catalog}", "--out", "{out}"],
    "negatives select": [
        "negatives",
        "select",
        "--candidates",
        "{bad}",
        "--catalog",
        "{catalog}",
        "--strategy",
        "clusterout_low",
        "--out",
        "{out}",
    ],
    "negatives selfplay": [
        "negatives",
        "selfplay",
        "--records",
        "{records}",
        "--predictions",
        "{bad}",
        "--catalog",
        "{catalog}",
        "--out",
        "{out}",
    ],
    "llm candidates": [
        "llm",
        "candidates",
        "--model",
        "{model}",
        "--catalog",
        "{catalog}",
        "--records",
        "{bad}",
        "--out",
        "{out}",
    ],
    "llm predict": ["llm", "predict", "--model", "{model}", "--catalog", "{catalog}", "--records", "{bad}", "--out", "{out}"],
    "llm sft": ["llm", "sft", "--model", "{model}", "--records", "{bad}", "--out", "{out}"],
    "llm dpo": ["llm", "dpo", "--model", "{model}", "--pairs", "{bad}", "--out", "{out}"],
    "llm sdpo": ["llm", "sdpo", "--model", "{model}", "--pairs", "{bad}", "--out", "{out}"],
    "llm evaluate": ["llm", "evaluate", "--predictions", "{bad}", "--catalog", "{catalog}", "--out", "{out}"],
    "llm init-tiny": ["llm", "init-tiny", "--data", "{catalog}", "--records", "{bad}", "--out", "{out}"],
    "llm run": ["llm", "run", "{bad}", "--out", "{out}"],
}


@pytest.mark.parametrize("kind", list(BAD))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_names_a_bad_file(world, tmp_path, command, kind):
    bad = tmp_path / "bad.json"
    if BAD[kind] == "dir":
        bad.mkdir()
    elif BAD[kind] is not None:
        bad.write_bytes(BAD[kind])
    args = [a.format(bad=bad, out=tmp_path / "out", **world) for a in COMMANDS[command]]
    result = runner.invoke(app, args, terminal_width=400)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{command} on a {kind} file raised {result.exception!r}"
    )
    assert result.exit_code in (1, 2), result.output  # 2: refused; 1: a submission check that found problems
    assert "bad.json" in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["llm", "candidates", "--n", "0"], "Invalid value for '--n'"),
        (["llm", "candidates", "--n", "31"], "--n 31 is more than the 30 titles in the catalog"),
        (["llm", "candidates", "--penalty", "nan"], "--penalty must be a finite number ≥ 0"),
        (["llm", "candidates", "--groups", "0"], "Invalid value for '--groups'"),
        (["llm", "predict", "--k", "0"], "Invalid value for '--k'"),
        (["llm", "predict", "--mode", "beams", "--k", "50"], "--k 50 is more than the 30 titles in the catalog"),
        (["llm", "predict", "--chunk-size", "0"], "Invalid value for '--chunk-size'"),
    ],
)
def test_generation_options_are_refused_before_any_work(world, tmp_path, args, message):
    """Counts that would loop forever or find nothing are refused by name, exit 2, nothing written."""
    base = [
        "--model",
        world["model"],
        "--catalog",
        world["catalog"],
        "--records",
        world["records"],
        "--out",
        str(tmp_path / "o.json"),
    ]
    result = runner.invoke(app, [*args[:2], *base, *args[2:]], terminal_width=400)
    assert result.exit_code == 2 and message in result.output, result.output
    assert list(tmp_path.iterdir()) == []


OUTPUTS = {
    "data synth": ["data", "synth", "--out", "{out}", "--users", "20", "--items", "30"],
    "data kaggle": ["data", "kaggle", "synthetic", "--out", "{out}"],
    "eval": ["eval", "--recs", "{csv}", "--truth", "{csv}", "--out", "{out}"],
    "cf train": ["cf", "train", "--out", "{out}", "--epochs", "1"],
    "cf compare": ["cf", "compare", "--out", "{out}", "--epochs", "1", "--samplers", "uniform"],
    "negatives selfplay": [
        "negatives",
        "selfplay",
        "--records",
        "{records}",
        "--predictions",
        "{predictions}",
        "--catalog",
        "{catalog}",
        "--out",
        "{out}",
    ],
    "llm init-tiny": [
        "llm",
        "init-tiny",
        "--data",
        "{catalog}",
        "--out",
        "{out}",
        "--vocab-size",
        "300",
        "--hidden-size",
        "16",
        "--intermediate-size",
        "32",
        "--layers",
        "1",
        "--heads",
        "2",
    ],
    "llm sft": ["llm", "sft", "--model", "{model}", "--records", "{records}", "--out", "{out}"],
    "llm predict": ["llm", "predict", "--model", "{model}", "--catalog", "{catalog}", "--records", "{records}", "--out", "{out}"],
}


FOLDER_OUTPUTS = ["data synth", "eval", "cf train", "cf compare", "llm init-tiny", "llm sft"]  # a file there is in the way


@pytest.mark.parametrize("command, where", [(c, "under-a-file") for c in OUTPUTS] + [(c, "is-a-file") for c in FOLDER_OUTPUTS])
def test_every_command_names_a_bad_output_location(world, tmp_path, command, where):
    """An output path below a file, or a folder output where a file is: named, exit 2, no traceback, the file kept."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file in the way\n")
    out = blocker / "out" if where == "under-a-file" else blocker
    args = [a.format(out=out, **world) for a in OUTPUTS[command]]
    result = runner.invoke(app, args, terminal_width=400)
    assert result.exception is None or isinstance(result.exception, SystemExit), f"{command}: {result.exception!r}"
    assert result.exit_code == 2 and "blocker" in result.output, result.output
    assert blocker.read_text() == "a file in the way\n"  # nothing overwritten


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "lightgcn", "--optimizer", "sgd"], "sgd updates MF's embedding rows; LightGCN trains with adam"),
        (["--optimizer", "sgd", "--weight-decay", "0.1"], "--weight-decay is Adam's; sgd regularises with --reg"),
        (["--optimizer", "rmsprop"], "Invalid value for '--optimizer'"),
    ],
)
def test_cf_optimizer_options_are_refused_before_any_work(tmp_path, args, message):
    result = runner.invoke(app, ["cf", "train", "--out", str(tmp_path / "run"), *args], terminal_width=400)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_cf_device_option_is_refused_before_any_work(tmp_path):
    result = runner.invoke(app, ["cf", "train", "--out", str(tmp_path / "run"), "--device", "tpu"], terminal_width=400)
    assert result.exit_code == 2 and "--device must be auto, cpu, cuda or cuda:<index>, got 'tpu'" in result.output, result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--sampling", "device", "--sampler", "clusterin_high"],
            "--sampling device: sampler 'clusterin_high' has no device version",
        ),
        (["--sampling", "device", "--static"], "static negatives are drawn once on the host"),
    ],
)
def test_cf_device_sampling_is_refused_before_any_work(tmp_path, args, message):
    result = runner.invoke(app, ["cf", "train", "--out", str(tmp_path / "run"), *args], terminal_width=400)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "run").exists()
