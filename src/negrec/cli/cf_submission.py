"""`negrec cf recommend | check-submission`: a run's top-K for every user as a checked Kaggle submission, and the
check on its own."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from negrec.cli.cf_options import app
from negrec.cli.common import OverwriteOpt, user_errors

SubmissionFormat = Enum("SubmissionFormat", {"kaggle": "kaggle", "long": "long"}, type=str)


@app.command("recommend")
def recommend_command(
    run: Annotated[Path, typer.Option(help="Run folder written by `negrec cf train`.")],
    out: Annotated[Path, typer.Option(help="Output CSV (see --format).")],
    k: Annotated[int, typer.Option(help="Items per user.")] = 50,
    format: Annotated[
        SubmissionFormat,
        typer.Option(
            help="kaggle: UserId,ItemId with space-separated ids, checked like `cf check-submission`; long: one row "
            "per recommendation, user,item,rank,score (the model's score), for analysis or another tool."
        ),
    ] = SubmissionFormat.kaggle,
    keep_known: Annotated[
        bool,
        typer.Option(
            help="Allow items a user already has in the run's input (by default every "
            "one of them is masked: training and validation parts)."
        ),
    ] = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """Top-K items for every user as a Kaggle submission file, checked like `cf check-submission`; the masking is
    recorded in the run folder (recommend.json)."""
    import numpy as np
    import scipy.sparse as sp

    from negrec.data.catalog import Catalog
    from negrec.data.io import write_json
    from negrec.data.kaggle import submission_problems, write_submission
    from negrec.data.outputs import claim_output
    from negrec.experiments.cf import load_run

    with user_errors():
        if k < 1:
            raise ValueError(f"--k must be ≥ 1, got {k}")
        claim_output(out, overwrite=overwrite, inputs=[run])
        saved = load_run(run)
        mask = sp.csr_matrix(saved.known.shape) if keep_known else saved.known
        recs = saved.recommender.recommend(np.arange(saved.known.shape[0]), k, exclude=mask)
        items = np.asarray(saved.items)
        if format == SubmissionFormat.long:
            write_long(out, saved, recs)
            problems = []
        else:
            write_submission(out, np.asarray(saved.users), recs, Catalog.from_ids(items))
            known = [[] for _ in saved.users] if keep_known else [items[mask[u].indices].tolist() for u in range(mask.shape[0])]
            problems = submission_problems(out, saved.users, known, saved.items, k, source=f"the run's input ({run})")
        write_json(
            run / "recommend.json",
            {
                "submission": str(out),
                "format": format.value,
                "k": k,
                "masked": "none" if keep_known else "known",
                "masked_entries": int(mask.nnz),
                "problems": problems,
            },
        )
    typer.echo(f"{len(saved.users)} users × {k} items → {out} (masked {'nothing' if keep_known else f'{mask.nnz} known items'})")
    _report_problems(problems)


def write_long(out: Path, saved, recs, chunk: int = 2048) -> None:
    """user,item,rank,score rows (rank 1 = best; a user with fewer than K candidates left gets fewer rows), the scores
    gathered chunk by chunk so no users × items matrix is held at once."""
    import numpy as np
    import pandas as pd

    from negrec.data.io import write_text

    users, items = np.asarray(saved.users), np.asarray(saved.items)
    scores = np.empty(recs.shape, dtype=np.float64)
    for start in range(0, len(recs), chunk):
        rows = np.arange(start, min(start + chunk, len(recs)))
        full = saved.recommender.score(rows)
        scores[rows] = np.take_along_axis(full, np.maximum(recs[rows], 0), axis=1)
    user_at, slot = np.nonzero(recs >= 0)
    table = pd.DataFrame(
        {"user": users[user_at], "item": items[recs[user_at, slot]], "rank": slot + 1, "score": scores[user_at, slot]}
    )
    write_text(out, table.to_csv(index=False, float_format="%.6g"))


def _report_problems(problems: list[str], shown: int = 20) -> None:
    """One line per problem (the first `shown`), exit code 1 when there is any."""
    for line in problems[:shown]:
        typer.echo(line, err=True)
    if len(problems) > shown:
        typer.echo(f"… and {len(problems) - shown} more problems", err=True)
    if problems:
        raise typer.Exit(code=1)


@app.command("check-submission")
def check_submission_command(
    submission: Annotated[Path, typer.Argument(help="Submission CSV to check.")],
    train: Annotated[Path, typer.Option(help="The Kaggle-format train.csv the submission was made from.")],
    k: Annotated[int, typer.Option(help="Items each user must get.")] = 50,
) -> None:
    """Check a submission against its input: header, one row per input user, exactly K distinct item ids that
    exist in the input, none the user already has. One line per problem; exit code 1 when there is any."""
    from negrec.data.kaggle import first_seen_ids, read_kaggle_lists, submission_problems

    with user_errors():
        users, lists = read_kaggle_lists(train)
        problems = submission_problems(submission, users.tolist(), lists, first_seen_ids(lists).tolist(), k, source=str(train))
    _report_problems(problems)
    typer.echo(f"ok: {len(users)} users × {k} distinct item ids from {train}, none already known")
