"""`llm predict` says how many answers are empty or name no catalog title (#39 class 9): exact counts on
hand-made predictions, and the command's warning line matching the counts of the file it wrote."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from conftest import tiny_world
from negrec.cli import app
from negrec.data.catalog import Catalog
from negrec.data.io import write_json
from negrec.llm.evaluate import answer_counts, answers_warning, read_predictions

CATALOG = Catalog(np.arange(3), titles=["Dune", "Emma", "Ulysses"])


def _records(*answers: str) -> list[dict]:
    return [{"prompt": "p", "prediction": a, "ground_truth": '"Dune"'} for a in answers]


def test_counts_and_the_warning_line():
    records = _records('"Dune"', "", "   ", '"Not a book"', "Emma")
    assert answer_counts(records, CATALOG) == (2, 1)
    assert answers_warning(records, CATALOG) == (
        "warning: 2 of 5 answers are empty; 1 of 5 name no catalog title (grounding maps them to the nearest title)"
    )
    assert answers_warning(_records('"Dune"', "Ulysses"), CATALOG) is None
    assert answers_warning(_records("", ""), CATALOG).endswith(
        "the model answers nothing: train it longer or check the prompt template"
    )


def test_predict_warns_with_the_counts_of_its_file(tmp_path):
    data, catalog, model = tiny_world(tmp_path)
    write_json(tmp_path / "records.json", data.records["train"][:6])
    out = tmp_path / "pred.json"
    args = ["llm", "predict", "--model", model, "--catalog", catalog, "--records", tmp_path / "records.json"]
    result = CliRunner().invoke(app, [str(a) for a in [*args, "--max-new-tokens", "2", "--out", out]], terminal_width=300)
    assert result.exit_code == 0, result.output
    expected = answers_warning(read_predictions(out), data.catalog)
    assert expected is not None  # an untrained model's two tokens name no title
    assert expected in result.output
