"""Specs are parsed once, at the edge, and travel down typed: one `cf train --sampler dns:5 --refit` parses its spec
exactly once (a counting wrapper around the parser's number reader, which every parse calls once), a comparison
parses each spec once, and interest-cluster specs are parsed only by the edges (CLI commands, recipe checks)."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

from typer.testing import CliRunner

import negrec.sampling.registry as registry
from negrec.cli import app

SRC = Path(__file__).resolve().parent.parent / "src" / "negrec"


def counted(args: list[str]) -> tuple[int, str]:
    """(specs parsed, output) of one `negrec` command run in this process."""
    real = registry._numbers
    with mock.patch.object(registry, "_numbers", side_effect=real) as numbers:
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return numbers.call_count, result.output


def test_cf_train_with_refit_parses_its_spec_once(tmp_path):
    args = ["cf", "train", "--sampler", "dns:5", "--refit", "--epochs", "2", "--out", str(tmp_path / "run")]
    calls, output = counted(args)
    assert "refit on training + validation" in output
    assert calls == 1


def test_cf_compare_parses_each_spec_once(tmp_path):
    args = ["cf", "compare", "--samplers", "uniform,dns:3,inbatch+logq", "--epochs", "1", "--out", str(tmp_path / "cmp")]
    calls, _ = counted(args)
    assert calls == 3


def test_cluster_specs_are_parsed_only_at_the_edges():
    callers = {
        str(path.relative_to(SRC)): len(re.findall(r"\bparse_clusters\(", path.read_text()))
        for path in SRC.rglob("*.py")
        if path.name != "clusters.py"
    }
    assert {k: v for k, v in callers.items() if v} == {
        "cli/cf_options.py": 1,  # cf train | compare | tune --clusters
        "cli/negatives.py": 1,  # negatives annotate --clusters
        "experiments/recipes.py": 1,  # a recipe's `clusters:` (checked and kept on the recipe)
    }
