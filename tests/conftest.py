"""Shared fixtures: the real data folder (skipped cleanly when absent) and small synthetic datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from negrec.data.synthetic import SyntheticConfig, generate

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path | None:
    env = os.environ.get("NEGREC_DATA_DIR")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real datasets folder; tests using it are skipped when it is not there."""
    path = _shared_data()
    if path is None:
        pytest.skip("real data not found: set NEGREC_DATA_DIR or place ../shared/data beside the checkout")
    return path


@pytest.fixture(scope="session")
def small_synth():
    """A small synthetic dataset shared by tests (deterministic)."""
    return generate(SyntheticConfig(n_users=80, n_items=120, seed=3))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(synthetic data, model, tokenizer): a very small random-weight Llama built with `init_tiny`."""
    pytest.importorskip("transformers")
    from negrec.llm.models import load_model
    from negrec.llm.tiny import TinyConfig, init_tiny

    data = generate(SyntheticConfig(n_users=60, n_items=120, seed=2))
    folder = init_tiny(
        data.records["train"],
        data.catalog.titles,
        tmp_path_factory.mktemp("tiny"),
        TinyConfig(vocab_size=600, hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2),
    )
    model, tokenizer = load_model(folder)
    return data, model, tokenizer, folder


def tiny_world(root: Path):
    """(synthetic data of 20 users × 30 items, its catalog folder, a random-weight title model) under `root`: the
    small inputs the command-line tests give the LLM commands."""
    from negrec.data.synthetic import write_goodreads_dir
    from negrec.llm.tiny import TinyConfig, init_tiny

    data = generate(SyntheticConfig(n_users=20, n_items=30, seed=1))
    catalog = write_goodreads_dir(data, root / "data")
    small = TinyConfig(vocab_size=300, hidden_size=16, intermediate_size=32, num_layers=1, num_heads=2)
    return data, catalog, init_tiny(data.records["train"], data.catalog.titles, root / "model", small)
