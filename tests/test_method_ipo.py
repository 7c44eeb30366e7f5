"""IPO, a method added as one module (`negrec.experiments.methods.ipo`): it gets `negrec llm ipo`, a recipe kind,
and trains with TRL's IPO loss — at the first step, where the policy is its reference, that loss is (1/(2β))²."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("trl")

from typer.testing import CliRunner  # noqa: E402

from negrec.cli import app  # noqa: E402
from negrec.data.io import write_json  # noqa: E402
from negrec.errors import DataError  # noqa: E402
from negrec.experiments.recipes import load_recipe  # noqa: E402
from negrec.experiments.methods import method, registry  # noqa: E402


def test_ipo_is_a_registered_method_with_a_command_and_a_recipe_kind(tmp_path):
    assert "ipo" in registry() and method("ipo").config().loss_type == "ipo"
    help_text = CliRunner().invoke(app, ["llm", "ipo", "--help"], terminal_width=200).output
    assert "--pairs" in help_text and "--loss-type" in help_text and "[default: ipo]" in help_text
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data: synthetic\nmethods:\n  - {name: IPO, kind: ipo, negatives: random, settings: {beta: 0.2}}\n")
    assert load_recipe(recipe).methods[0]["kind"] == "ipo"
    recipe.write_text("data: synthetic\nmethods:\n  - {name: IPO, kind: ipo, settings: {loss_type: sigmoid}}\n")
    with pytest.raises(DataError, match="ipo method 'IPO': needs `negatives`"):
        load_recipe(recipe)


def test_ipo_trains_with_the_ipo_loss(tiny, tmp_path):
    from negrec.preference.negatives import random_records

    data, _, _, model = tiny
    pairs, _ = random_records(data.records["train"][:8], data.catalog, 1, np.random.default_rng(0))
    write_json(tmp_path / "pairs.json", pairs)
    result = CliRunner().invoke(
        app,
        ["llm", "ipo", "--model", str(model), "--pairs", str(tmp_path / "pairs.json"), "--out", str(tmp_path / "ipo")]
        + ["--beta", "0.1", "--batch-size", "4", "--max-steps", "2", "--lr", "1e-3"],
    )
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "ipo" / "config.json").read_text())
    assert config["stage"] == "dpo" and config["loss_type"] == "ipo"
    first = json.loads((tmp_path / "ipo" / "log.jsonl").read_text().splitlines()[0])
    assert first["loss"] == pytest.approx((1 / (2 * 0.1)) ** 2, rel=1e-4)  # margin 0 at the start: (0 − 1/(2β))²
    assert "IPO model →" in result.output


def test_a_curriculum_takes_an_ipo_stage(tiny, tmp_path):
    from negrec.experiments.methods.curriculum import stage_kinds, stage_settings
    from negrec.llm.settings import PreferenceSettings
    from negrec.preference.negatives import random_records

    assert stage_kinds() == ("dpo", "ipo", "sdpo")  # from the method registry: every pair-trained preference method
    assert stage_settings("ipo", PreferenceSettings(beta=0.3)).loss_type == "ipo"  # its own loss, the shared β
    assert stage_settings("ipo", PreferenceSettings(beta=0.3)).beta == 0.3
    data, _, _, model = tiny
    pairs, _ = random_records(data.records["train"][:8], data.catalog, 1, np.random.default_rng(0))
    write_json(tmp_path / "pairs.json", pairs)
    stages = ["--stage", f"dpo:{tmp_path / 'pairs.json'}", "--stage", f"ipo:{tmp_path / 'pairs.json'}"]
    result = CliRunner().invoke(
        app,
        ["llm", "curriculum", "--model", str(model), *stages, "--out", str(tmp_path / "cur")]
        + ["--beta", "0.1", "--batch-size", "4", "--max-steps", "1", "--lr", "1e-3"],
    )
    assert result.exit_code == 0, result.output
    ipo = json.loads((tmp_path / "cur" / "stage2-ipo" / "config.json").read_text())
    assert ipo["loss_type"] == "ipo"
    first = json.loads((tmp_path / "cur" / "stage2-ipo" / "log.jsonl").read_text().splitlines()[0])
    assert first["loss"] == pytest.approx((1 / (2 * 0.1)) ** 2, rel=1e-4)  # the stage starts at its own reference
    bad = CliRunner().invoke(
        app, ["llm", "curriculum", "--model", str(model), "--stage", "kto:x.json", "--out", str(tmp_path / "bad")]
    )
    assert bad.exit_code != 0 and "must be dpo:FILE or ipo:FILE or sdpo:FILE" in bad.output
