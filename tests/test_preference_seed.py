"""Reproduction of the seed's stored annotation and strategy files (skipped without ../shared/data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from negrec.cli import app
from negrec.data.goodreads import load_goodreads_catalog
from negrec.preference.annotate import annotate, load_annotated, read_candidates
from negrec.preference.negatives import strategy_records
from negrec.sampling.strategies import STRATEGIES

pytestmark = pytest.mark.shared_data
RUN = "goodreads-seed-runs/beam-candidates-smollm2-1.7b"
DETERMINISTIC = [s for s in STRATEGIES if s != "balanced_popularity"]


@pytest.fixture(scope="module")
def seed_setup(data_dir):
    catalog = load_goodreads_catalog(data_dir / "goodreads")
    annotated = {
        split: annotate(read_candidates(data_dir / RUN / f"{split}.json"), catalog, parser="seed") for split in ("train", "valid")
    }
    return data_dir / RUN, catalog, annotated


def _as_sets(records):
    return [{**r, "interest_clusters": set(r["interest_clusters"])} for r in records]


@pytest.mark.parametrize("split", ["train", "valid"])
def test_annotation_reproduces_seed(seed_setup, split):
    folder, _, annotated = seed_setup
    expected = json.loads((folder / f"annotated_{split}.json").read_text())
    assert _as_sets(annotated[split].records()) == _as_sets(expected)


@pytest.mark.parametrize("split", ["train", "valid"])
@pytest.mark.parametrize("strategy", DETERMINISTIC)
def test_strategies_reproduce_seed(seed_setup, split, strategy):
    folder, _, annotated = seed_setup
    records, report = strategy_records(annotated[split], strategy, empty_negatives=True)
    assert records == json.loads((folder / "strategies" / strategy / f"{split}.json").read_text())
    assert report.skipped == [] and report.empty_negatives == 0


@pytest.mark.parametrize("split", ["train", "valid"])
def test_balanced_popularity_respects_halves(seed_setup, split):
    folder, _, annotated = seed_setup
    stored = load_annotated(folder / f"annotated_{split}.json")
    ours, _ = strategy_records(annotated[split], "balanced_popularity", rng=np.random.default_rng(7))
    theirs = json.loads((folder / "strategies" / "balanced_popularity" / f"{split}.json").read_text())
    for name, records in (("negrec", ours), ("seed", theirs)):
        assert len(records) == len(stored)
        for r, rec in enumerate(records):
            lo, hi = stored.table.offsets[r], stored.table.offsets[r + 1]
            cands = stored.candidates[lo:hi]
            e = stored.table.exposure[lo:hi]
            order = sorted(range(len(cands)), key=lambda p: -e[p])
            half = len(cands) // 2
            high = {cands[p] for p in order[:half]}
            low = {cands[p] for p in order[half:]}
            picks = rec["rejected"]
            if len(cands) == 1:
                assert picks == cands, name
            else:
                # a duplicate second pick is dropped, so one pick may remain
                assert picks[0] in high and (len(picks) == 1 or picks[1] in low), (name, r)


def test_cli_select_from_candidates_reproduces_seed(data_dir, tmp_path):
    out = tmp_path / "clusterout_low.json"
    result = CliRunner().invoke(
        app,
        [
            "negatives",
            "select",
            "--candidates",
            str(data_dir / RUN / "valid.json"),
            "--catalog",
            str(data_dir / "goodreads"),
            "--exposure-from",
            "candidates",
            "--compat",
            "seed",
            "--strategy",
            "clusterout_low",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == json.loads((data_dir / RUN / "strategies/clusterout_low/valid.json").read_text())
