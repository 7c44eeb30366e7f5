"""Settings travel with the model: the template a stage trained with is recorded in its model folder and taken by
`llm predict` / `candidates`; a contradicting --template and a run folder given as a model are handled by name."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.synthetic import SyntheticConfig, generate, write_goodreads_dir
from negrec.llm.models import SETTINGS_FILE
from negrec.data.prompts import render

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A title-token model after a few SFT epochs with the compact template."""
    root = tmp_path_factory.mktemp("settings")
    data = generate(SyntheticConfig(n_users=30, n_items=50, seed=4))
    folder = write_goodreads_dir(data, root / "data")
    init = runner.invoke(
        app,
        [
            "llm",
            "init-tiny",
            "--data",
            str(folder),
            "--out",
            str(root / "m"),
            "--titles",
            "tokens",
            "--vocab-size",
            "300",
            "--hidden-size",
            "32",
            "--intermediate-size",
            "64",
            "--layers",
            "1",
            "--heads",
            "2",
        ],
    )
    assert init.exit_code == 0, init.output
    sft = runner.invoke(
        app,
        [
            "llm",
            "sft",
            "--model",
            str(root / "m"),
            "--records",
            str(folder / "train.json"),
            "--out",
            str(root / "sft"),
            "--template",
            "compact",
            "--epochs",
            "30",
            "--batch-size",
            "8",
            "--lr",
            "1e-2",
        ],
    )
    assert sft.exit_code == 0, sft.output
    return root, folder, data


def test_the_run_records_its_settings_beside_the_model_and_writes_its_own_readme(trained):
    root, _, _ = trained
    recorded = json.loads((root / "sft" / "final" / SETTINGS_FILE).read_text())
    assert recorded["template"] == "compact" and recorded["stage"] == "sft"
    readme = (root / "sft" / "README.md").read_text()
    assert readme.startswith("# negrec sft run") and "fine-tuned version of" not in readme and "- `template`: compact" in readme


def test_predict_takes_the_models_template_and_writes_a_catalog_title_for_every_user(trained):
    root, folder, data = trained
    out = root / "preds.json"
    # the run folder itself, not run/final: it resolves to the model inside
    res = runner.invoke(
        app,
        [
            "llm",
            "predict",
            "--model",
            str(root / "sft"),
            "--catalog",
            str(folder),
            "--records",
            str(folder / "test.json"),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(out.read_text())
    titles = set(data.catalog.titles)
    assert all(r["prompt"] == render(x["instruction"], x["input"], "compact") for r, x in zip(rows, data.records["test"]))
    assert len(rows) == len(data.records["test"]) and all(r["prediction"].strip().strip('"') in titles for r in rows)


def test_a_template_that_contradicts_the_model_is_refused_by_name(trained, tmp_path):
    root, folder, _ = trained
    res = runner.invoke(
        app,
        [
            "llm",
            "predict",
            "--model",
            str(root / "sft" / "final"),
            "--catalog",
            str(folder),
            "--records",
            str(folder / "test.json"),
            "--out",
            str(tmp_path / "p.json"),
            "--template",
            "train",
        ],
        terminal_width=400,
    )
    assert (
        res.exit_code == 2
        and (
            f"--template train contradicts the template the model was trained with (compact, recorded in "
            f"{root / 'sft' / 'final' / SETTINGS_FILE}); leave --template out to use it"
        )
        in res.output
    )
    res = runner.invoke(
        app,
        [
            "llm",
            "predict",
            "--model",
            str(folder),
            "--catalog",
            str(folder),
            "--records",
            str(folder / "test.json"),
            "--out",
            str(tmp_path / "p.json"),
        ],
        terminal_width=400,
    )
    assert res.exit_code == 2 and f"{folder}: is not a model folder (no config.json with weights)" in res.output
