"""SPRec self-play as an experiment loop over the training stages: per round the current model's greedy predictions
become negatives (`preference.selfplay`), then SFT on the positives and DPO on the self-play pairs (`llm.train`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from negrec.data.io import fingerprint, folder_signature, read_records, write_json
from negrec.launch import is_main_process, join_process_group, launch_rank, processes_barrier
from negrec.llm.runs import run_and_merge
from negrec.llm.settings import PreferenceSettings, StageSettings
from negrec.llm.stage_runs import begin_stage, stage_record


def selfplay_rounds(
    model_dir: str | Path,
    records: Sequence[dict],
    catalog,
    rounds: int,
    out: str | Path,
    settings: StageSettings = PreferenceSettings(),
    batch_size: int = 8,
) -> Path:
    """SPRec: per round, the current model's greedy predictions become negatives (clean filtering), then SFT on
    the positives and DPO on the self-play pairs, both from the current model; the next round starts there."""
    from negrec.llm.models import load_model
    from negrec.llm.pipeline import predict_fn
    from negrec.llm.train import dpo, sft
    from negrec.preference.selfplay import selfplay_records

    out = Path(out)
    begin_stage(
        out,
        stage_record(
            "selfplay",
            settings,
            model=model_dir,
            data=records,
            rounds=rounds,
            batch_size=batch_size,
            catalog=fingerprint(list(catalog.titles)),
        ),
    )
    current = Path(model_dir)
    main = is_main_process()
    if launch_rank() is not None:
        join_process_group()  # the processes meet after the predictions, before any trainer has joined them
    for r in range(1, rounds + 1):
        round_dir = out / f"round{r}"
        done = round_dir / "done.json"
        if not done.is_file():
            model, tok = load_model(current)
            predict = predict_fn(model, tok, batch_size=batch_size, template=settings.template)
            if launch_rank() is None:
                preds = predict(records, 0)
            else:
                # each process predicts its rank's chunks (one batch each, so the batches, and hence the greedy
                # answers, are those of one process) and rank 0 merges; every process then reads all of them
                signature = {"stage": "selfplay predictions", "model": folder_signature(current), "template": settings.template}
                run_and_merge(
                    records,
                    round_dir / "predictions.chunks",
                    predict,
                    signature,
                    round_dir / "predictions.json",
                    chunk_size=batch_size,
                )
                processes_barrier()
                preds = read_records(round_dir / "predictions.json")[0]
            pairs, report = selfplay_records(records, preds, catalog, template=settings.template)
            if main:
                write_json(round_dir / "selfplay.json", pairs)
                write_json(round_dir / "selfplay_report.json", {"written": report.written, "dropped": dict(report.dropped)})
            final = sft(current, records, round_dir / "sft", settings)
            # a model whose predictions are all filtered out (e.g. a fresh tiny one) leaves nothing to prefer
            if pairs:
                final = dpo(final, pairs, round_dir / "dpo", settings)
            if main:
                write_json(done, {"model": str(final), "pairs": len(pairs)})
            processes_barrier()  # every process reads the round's record next
        current = Path(json.loads(done.read_text())["model"])
    return current
