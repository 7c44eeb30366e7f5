"""Every writing command refuses an existing output unless --overwrite is given, and an output that is one of its
inputs (or holds one) even then; --overwrite replaces a folder only when the same kind of command wrote it. The
first output stays byte-identical after a refusal."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import tiny_world
from negrec.cli import app
from negrec.data.io import write_json
from negrec.data.prompts import render

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Small inputs every writing command can take: a catalog folder, a Kaggle file, a tiny model, records,
    candidates and predictions."""
    root = tmp_path_factory.mktemp("outputs")
    data, catalog, model = tiny_world(root)
    lines = ["UserId,ItemId"] + [f"u{u},{' '.join(f'i{(u * 7 + j) % 25}' for j in range(10))}" for u in range(12)]
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    write_json(root / "records.json", data.records["train"][:3])
    titles = data.catalog.titles
    write_json(
        root / "cands.json",
        [
            {
                "prompt": render(r["instruction"], r["input"]),
                "chosen": r["output"],
                "rejected": [f'"{titles[i]}"' for i in (1, 2, 3)],
            }
            for r in data.records["train"][:3]
        ],
    )
    write_json(
        root / "predictions.json",
        [
            {"prompt": render(r["instruction"], r["input"]), "prediction": r["output"], "ground_truth": r["output"]}
            for r in data.records["train"][:2]
        ],
    )
    run = root / "run"
    assert (
        runner.invoke(
            app,
            ["cf", "train", "--dataset", str(root / "train.csv"), "--protocol", "homework", "--epochs", "1", "--out", str(run)],
        ).exit_code
        == 0
    )
    return {
        "root": root,
        "catalog": str(catalog),
        "model": str(model),
        "csv": str(root / "train.csv"),
        "run": str(run),
        "records": str(root / "records.json"),
        "cands": str(root / "cands.json"),
        "predictions": str(root / "predictions.json"),
    }


# each writing command with {out} for its output; the first run must succeed
WRITERS = {
    "cf train": ["cf", "train", "--dataset", "{csv}", "--protocol", "homework", "--epochs", "1", "--out", "{out}"],
    "cf compare": [
        "cf",
        "compare",
        "--dataset",
        "{csv}",
        "--protocol",
        "homework",
        "--epochs",
        "1",
        "--samplers",
        "uniform",
        "--out",
        "{out}",
    ],
    "cf recommend": ["cf", "recommend", "--run", "{run}", "--k", "5", "--out", "{out}"],
    "data kaggle": ["data", "kaggle", "{csv}", "--out", "{out}"],
    "data synth": ["data", "synth", "--users", "20", "--items", "30", "--out", "{out}"],
    "eval --out": ["eval", "--recs", "{csv}", "--truth", "{csv}", "--out", "{out}"],
    "negatives annotate": ["negatives", "annotate", "--candidates", "{cands}", "--catalog", "{catalog}", "--out", "{out}"],
    "negatives select": [
        "negatives",
        "select",
        "--candidates",
        "{cands}",
        "--catalog",
        "{catalog}",
        "--strategy",
        "low_exposure",
        "--out",
        "{out}",
    ],
    "llm predict": [
        "llm",
        "predict",
        "--model",
        "{model}",
        "--catalog",
        "{catalog}",
        "--records",
        "{records}",
        "--max-new-tokens",
        "3",
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
        "{records}",
        "--method",
        "beam",
        "--n",
        "2",
        "--out",
        "{out}",
    ],
    "llm evaluate": [
        "llm",
        "evaluate",
        "--predictions",
        "{predictions}",
        "--catalog",
        "{catalog}",
        "--grounding",
        "exact",
        "--out",
        "{out}",
    ],
}


def digest(path: Path) -> dict[str, str]:
    """Every file under `path` (or the file itself) with its SHA-256."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def invoke(args: list[str], world: dict, out: Path, *extra: str):
    return runner.invoke(app, [a.format(out=out, **world) for a in args] + list(extra), terminal_width=400)


@pytest.mark.parametrize("command", list(WRITERS))
def test_a_second_run_is_refused_without_overwrite_and_the_first_output_stays(world, tmp_path, command):
    out = tmp_path / ("out" if command in ("cf train", "cf compare", "data synth", "eval --out") else "out.json")
    first = invoke(WRITERS[command], world, out)
    assert first.exit_code == 0, first.output
    before = digest(out)
    again = invoke(WRITERS[command], world, out)
    assert again.exit_code == 2 and f"{out}: exists; pass --overwrite to replace it" in again.output, again.output
    assert "Traceback" not in again.output and digest(out) == before
    replaced = invoke(WRITERS[command], world, out, "--overwrite")
    assert replaced.exit_code == 0, replaced.output


@pytest.mark.parametrize(
    "command, inputs",
    [("negatives select", "cands"), ("llm evaluate", "predictions"), ("llm predict", "records"), ("data kaggle", "csv")],
)
def test_an_output_that_is_an_input_is_refused_even_with_overwrite(world, tmp_path, command, inputs):
    source = tmp_path / Path(world[inputs]).name
    source.write_bytes(Path(world[inputs]).read_bytes())
    args = [a.replace("{" + inputs + "}", str(source)) for a in WRITERS[command]]
    before = source.read_bytes()
    res = invoke(args, world, source, "--overwrite")
    assert res.exit_code == 2 and f"{source}: --out is an input of this command" in res.output, res.output
    assert source.read_bytes() == before


def test_overwrite_replaces_only_a_folder_of_its_own_kind(world, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("mine")
    res = invoke(WRITERS["cf train"], world, victim, "--overwrite")
    assert (
        res.exit_code == 2 and f"{victim}: is not a folder negrec wrote; --overwrite replaces only a cf-run folder" in res.output
    )
    assert (victim / "notes.txt").read_text() == "mine"
    compared = tmp_path / "cmp"
    assert invoke(WRITERS["cf compare"], world, compared).exit_code == 0
    res = invoke(WRITERS["cf train"], world, compared, "--overwrite")
    assert res.exit_code == 2 and f"{compared}: is a cf-compare folder; --overwrite replaces only a cf-run folder" in res.output
    # a folder that holds the dataset is refused before anything else
    data = victim / "train.csv"
    data.write_bytes(Path(world["csv"]).read_bytes())
    res = runner.invoke(app, ["cf", "train", "--dataset", str(data), "--out", str(victim), "--overwrite"])
    assert res.exit_code == 2 and f"{victim}: --out holds {data}, which is an input of this command" in res.output


def test_data_kaggle_never_puts_the_hidden_items_back_into_training(world, tmp_path):
    out, hidden = tmp_path / "train.csv", tmp_path / "hidden.csv"
    first = runner.invoke(app, ["data", "kaggle", world["csv"], "--out", str(out), "--hide", "0.5", "--hidden", str(hidden)])
    assert first.exit_code == 0, first.output
    before = digest(out) | digest(hidden)
    # rerun without --hide over the same training file: refused, so the hold-out cannot leak into it
    res = runner.invoke(app, ["data", "kaggle", world["csv"], "--out", str(out)])
    assert res.exit_code == 2 and f"{out}: exists; pass --overwrite" in res.output
    res = runner.invoke(
        app, ["data", "kaggle", world["csv"], "--out", str(tmp_path / "new.csv"), "--hide", "0.5", "--hidden", str(hidden)]
    )
    assert res.exit_code == 2 and f"{hidden}: exists; pass --overwrite to replace it, or choose another --hidden" in res.output
    res = runner.invoke(app, ["data", "kaggle", world["csv"], "--out", str(out), "--hidden", str(tmp_path / "h2.csv")])
    assert res.exit_code == 2 and "--hidden needs --hide > 0" in res.output
    res = runner.invoke(
        app,
        [
            "data",
            "kaggle",
            world["csv"],
            "--out",
            str(tmp_path / "same.csv"),
            "--hide",
            "0.5",
            "--hidden",
            str(tmp_path / "same.csv"),
        ],
    )
    assert res.exit_code == 2 and "--hidden and --out are the same file" in res.output
    assert digest(out) | digest(hidden) == before


def test_a_report_page_is_titled_with_its_folders_final_name(world, tmp_path):
    """#39 class 7: the page was titled with the temporary folder it was written in (`.report.tmp`)."""
    out = tmp_path / "report"
    args = [a.format(**world, out=out) for a in WRITERS["eval --out"]]
    assert runner.invoke(app, args).exit_code == 0
    assert "<title>negrec comparison: report</title>" in (out / "index.html").read_text()


def test_evaluate_grounds_a_beams_file_by_its_beams_unless_told_otherwise(world, tmp_path):
    """#39 class 8: a `--mode beams` file was grounded by its first answer (the seed's encoder) by default."""
    from negrec.data.goodreads import load_goodreads_catalog

    titles = load_goodreads_catalog(world["catalog"]).titles
    preds = [
        {
            "prompt": render("Recommend.", "read: nothing"),
            "prediction": "x",
            "ground_truth": f'"{titles[1]}"',
            "beams": [f'"{titles[0]}"', f'"{titles[1]}"'],
        }
    ]
    write_json(tmp_path / "beams.json", preds)
    common = ["llm", "evaluate", "--predictions", tmp_path / "beams.json", "--catalog", world["catalog"], "--k", "2"]
    default = runner.invoke(app, [str(a) for a in [*common, "--out", tmp_path / "d.json"]])
    assert default.exit_code == 0, default.output
    written = json.loads((tmp_path / "d.json").read_text())
    assert written["grounding"] == "beams" and written["HR@2"] == 1.0
    told = runner.invoke(app, [str(a) for a in [*common, "--grounding", "exact", "--out", tmp_path / "e.json"]])
    assert told.exit_code == 0, told.output
    assert json.loads((tmp_path / "e.json").read_text())["grounding"] == "exact"
