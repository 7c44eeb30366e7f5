"""Training stages: SFT, DPO and S-DPO through TRL (S-DPO: `negrec.llm.sdpo_trainer`) and a curriculum of stages
(SPRec's self-play loop over them is an experiment: `negrec.experiments.selfplay`). Every stage writes a run folder:
`final/` (model + tokenizer), checkpoints (`--resume` continues the same run), `log.jsonl` and `config.json`;
`report.plots.curves_from_logs` draws `curve.png` from the logs."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

from negrec.data.io import read_records
from negrec.data.prompts import render
from negrec.launch import refuse_under_launch
from negrec.llm.sdpo import answer, common_prefix
from negrec.llm.settings import PreferenceSettings, SFTSettings, StageSettings, as_settings

StageFn = Callable[[Path, list[dict], Path, StageSettings], Path]  # (model, records, out, settings) → final model


def _trl_common(out: Path, s: StageSettings) -> dict:
    import torch

    cpu = not torch.cuda.is_available()
    return dict(
        output_dir=str(out),
        num_train_epochs=s.epochs,
        max_steps=s.max_steps,
        learning_rate=s.lr,
        per_device_train_batch_size=s.batch_size,
        gradient_accumulation_steps=s.grad_accum,
        warmup_steps=s.warmup_steps,
        save_strategy="steps",
        weight_decay=s.weight_decay,
        lr_scheduler_type=s.lr_schedule,
        save_steps=s.save_steps,
        logging_steps=1,
        run_name=out.name,
        report_to=_trackers(out, s),
        disable_tqdm=True,
        seed=s.seed,
        bf16=not cpu and torch.cuda.is_bf16_supported(),
        activation_checkpointing=False,
        max_length=s.max_length,
        use_cpu=cpu,
        # every trained parameter takes part in each forward (a DPO reference is frozen and not wrapped): the
        # default search for unused ones costs a graph traversal per step and a warning per process
        ddp_find_unused_parameters=False,
    )


def _trackers(out: Path, s: StageSettings) -> list[str]:
    """TRL's `report_to` for the stage, kept offline under the run folder unless the user's environment says otherwise:
    TensorBoard writes <out>/runs/, MLflow a file store <out>/mlruns, W&B runs in offline mode into <out>/wandb."""
    if s.report_to == "none":
        return []
    if s.report_to == "mlflow":
        _offline("MLFLOW_TRACKING_URI", (out / "mlruns").resolve().as_uri())
    if s.report_to == "wandb":
        _offline("WANDB_MODE", "offline")
        _offline("WANDB_DIR", str(out))
    return [s.report_to]


_SET_HERE: set[str] = set()  # tracker variables negrec set (the next stage moves them); a user's own stay as they are


def _offline(variable: str, value: str) -> None:
    if variable not in os.environ or variable in _SET_HERE:
        os.environ[variable] = value
        _SET_HERE.add(variable)


def _train(trainer, out: Path) -> None:
    """Train, resuming from the newest checkpoint under `out`; a checkpoint whose files hold more than tensors and
    plain values (transformers loads them with weights_only=True, so a planted file cannot run code) is refused."""
    import pickle

    from transformers.trainer_utils import get_last_checkpoint

    from negrec.errors import DataError

    last = get_last_checkpoint(str(out)) if out.is_dir() else None
    try:
        trainer.train(resume_from_checkpoint=last)
    except pickle.UnpicklingError:
        if last is None:
            raise
        raise DataError(
            "is not a training checkpoint (a file in it holds more than tensors and plain values); move it away to start over",
            path=last,
        ) from None


def _frozen(model):
    """A reference model: evaluation mode, no parameter takes gradients."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _finish(trainer, tokenizer, out: Path) -> Path:
    """Save the log (JSONL), the run's README, what it got (config.json's `result`) and, last, the final model as a
    unit (the CLI/experiment layer draws curve.png from the log); under a multi-process launch only rank 0 writes."""
    from negrec.launch import is_main_process, processes_barrier

    from negrec.llm.models import write_run_readme
    from negrec.llm.stage_callbacks import TrainingClock
    from negrec.llm.stage_runs import CONFIG, record_result, save_final

    record = json.loads((out / CONFIG).read_text(encoding="utf-8"))  # the run begin_stage recorded
    state = trainer.state
    clock = next(c for c in trainer.callback_handler.callbacks if isinstance(c, TrainingClock))
    stopped = (
        "time budget" if clock.stopped_by_budget else "max steps" if 0 < trainer.args.max_steps <= state.global_step else "epochs"
    )
    result = {"steps": state.global_step, "training_seconds": round(clock.seconds, 3), "stopped": stopped}
    if is_main_process():
        model = trainer.model
        model = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model  # LoRA: save a plain model
        history = [h for h in state.log_history if "loss" in h]
        (out / "log.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
        record_result(out, result)
        write_run_readme(out, {**record, **result}, len(history))
        save_final(out, model, tokenizer, {**record, "result": result})
    processes_barrier()  # the next stage may start from this model: every process waits until rank 0 has saved it
    return out / "final"


def _callbacks(out: Path, settings: StageSettings) -> list:
    """The stage's training clock (stops at `time_budget_s` of training time when set)."""
    from negrec.llm.stage_callbacks import TrainingClock

    if settings.time_budget_s:
        refuse_under_launch("--time-budget (each process would stop after its own step count)")
    return [TrainingClock(out, settings.time_budget_s)]


def _load_trainable(model_dir: Path, s: StageSettings):
    from negrec.llm.models import load_model

    model, tok = load_model(model_dir)
    model.train()
    if s.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=s.lora_r, lora_alpha=s.lora_alpha, lora_dropout=0.05, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"
            ),
        )
    return model, tok


def sft_rows(tokenizer, records: Sequence[dict], template: str = "train", history_loss_from: int = 0) -> list[dict]:
    """Tokenised SFT examples `{input_ids, completion_mask}`: prompt, answer and EOS; the mask marks the answer
    and, with `history_loss_from` = h > 0 (title-token models), every history title from the h-th on — next-item
    supervision inside the prompt at no extra forward cost."""
    if history_loss_from and not hasattr(tokenizer, "is_title"):
        raise ValueError("history_loss_from needs a title-token model (negrec llm init-tiny --titles tokens)")
    rows = []
    for r in records:
        prompt = render(r["instruction"], r["input"], template)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = tokenizer(prompt + answer(r["output"].strip()), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        start = common_prefix(prompt_ids, ids)
        mask = [0] * start + [1] * (len(ids) - start)
        if history_loss_from:
            seen = 0
            for pos in range(start):
                if tokenizer.is_title(ids[pos]):
                    seen += 1
                    mask[pos] = int(seen >= history_loss_from)
        rows.append({"input_ids": ids, "completion_mask": mask})
    return rows


def _sft_trainer(model, tok, dataset, out: Path, settings: SFTSettings, callbacks=None):
    """TRL's SFTTrainer on tokenised rows, its LM head answered on labelled positions only (`negrec.llm.heads`)."""
    from trl import SFTConfig, SFTTrainer

    from negrec.llm.heads import add_dropout, install_gathered_head
    from negrec.llm.logs import quiet_trainer

    if settings.dropout:
        add_dropout(model, settings.dropout)
    args = SFTConfig(**_trl_common(out, settings), completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tok, callbacks=callbacks)
    install_gathered_head(trainer.model)
    return quiet_trainer(trainer, "SFT")


def sft(model_dir: str | Path, records: Sequence[dict], out: str | Path, settings: StageSettings = SFTSettings()) -> Path:
    """Supervised fine-tuning on `{instruction, input, output}` records with TRL's SFTTrainer: prompt (template
    `settings.template`) → `\\n"Title"` + EOS, loss on the answer (and, for title-token models with
    `history_loss_from`, on the history titles; TRL's fused head computes the LM head only where loss is taken).
    With `time_budget_s` training stops once that many seconds of training steps have passed (the schedule runs over
    `epochs`). Reruns into `out` resume only the same run (`stage_runs.begin_stage`)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datasets import Dataset

    from negrec.llm.stage_runs import begin_stage, stage_record

    out, settings = Path(out), as_settings(settings, SFTSettings)
    callbacks = _callbacks(out, settings)
    if begin_stage(out, stage_record("sft", settings, model=model_dir, data=records)):
        return out / "final"
    model, tok = _load_trainable(Path(model_dir), settings)
    dataset = Dataset.from_list(sft_rows(tok, records, settings.template, settings.history_loss_from))
    trainer = _sft_trainer(model, tok, dataset, out, settings, callbacks)
    _train(trainer, out)
    return _finish(trainer, tok, out)


def dpo(
    model_dir: str | Path,
    pairs: Sequence[dict],
    out: str | Path,
    settings: StageSettings = PreferenceSettings(),
    reference_dir: str | Path | None = None,
) -> Path:
    """DPO with TRL on single-negative `{prompt, chosen, rejected}` records, with the pair loss `settings.loss_type`
    (sigmoid: DPO; ipo: IPO; ...). The reference is an explicit frozen copy of `reference_dir` (default: the starting
    model), so it works for any model; with LoRA the reference is the adapter-free base, as TRL does for PEFT models."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from negrec.llm.heads import install_gathered_head
    from negrec.llm.logs import quiet_trainer
    from negrec.llm.models import load_model
    from negrec.llm.sdpo import title_range

    from negrec.llm.stage_runs import begin_stage, stage_record

    out, settings = Path(out), as_settings(settings, PreferenceSettings)
    if not pairs:
        raise ValueError("no preference records to train on")
    lists = [i for i, p in enumerate(pairs) if isinstance(p.get("rejected"), list)]
    if lists:
        raise ValueError(f"record {lists[0]} has a list of negatives: DPO takes one; use `negrec llm sdpo`")
    missing = [i for i, p in enumerate(pairs) if not isinstance(p.get("rejected"), str)]
    if missing:
        raise ValueError(f"record {missing[0]}, field 'rejected': missing or not a string")
    callbacks = _callbacks(out, settings)
    if begin_stage(out, stage_record("dpo", settings, model=model_dir, data=pairs, reference=Path(reference_dir or model_dir))):
        return out / "final"
    model, tok = _load_trainable(Path(model_dir), settings)
    reference = None
    if not settings.lora:
        reference = _frozen(load_model(reference_dir)[0] if reference_dir else copy.deepcopy(model))
    rows = [{"prompt": p["prompt"], "chosen": answer(p["chosen"]), "rejected": answer(p["rejected"])} for p in pairs]
    # the anchor is RPO: TRL's "sft" loss (mean NLL of the chosen tokens) weighted beside the pair loss
    losses = dict(loss_type=[settings.loss_type])
    if settings.anchor:
        losses = dict(loss_type=[settings.loss_type, "sft"], loss_weights=[1.0, settings.anchor])
    args = DPOConfig(
        **_trl_common(out, settings), beta=settings.beta, precompute_ref_log_probs=settings.precompute_ref_log_probs, **losses
    )
    titles = title_range(tok) if settings.title_logps else None
    trainer = DPOTrainer(
        model=model,
        ref_model=reference,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        callbacks=callbacks,
    )
    for net in (trainer.model, trainer.ref_model):
        if net is not None:  # under DeepSpeed the reference is an engine: the head belongs to its module
            install_gathered_head(getattr(net, "module", net), titles)
    _train(quiet_trainer(trainer, "DPO"), out)
    return _finish(trainer, tok, out)


def sdpo_trainer(
    model_dir: str | Path,
    records: Sequence[dict],
    out: str | Path,
    settings: StageSettings = PreferenceSettings(),
    reference_dir: str | Path | None = None,
    pad_empty_to: int | None = None,
):
    """The S-DPO trainer (TRL's DPO trainer with the S-DPO loss, `negrec.llm.sdpo_trainer`) on lists of negatives,
    `out` claimed for its run (`stage_runs.begin_stage`; None when that run is finished already); the reference is a
    frozen copy of `reference_dir` (default: the starting model)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from datasets import Dataset
    from trl import DPOConfig

    from negrec.llm.logs import quiet_trainer
    from negrec.llm.models import load_model
    from negrec.llm.sdpo import prepare_rows, title_range
    from negrec.llm.sdpo_trainer import SDPOTrainer

    from negrec.llm.stage_runs import begin_stage, stage_record

    settings = as_settings(settings, PreferenceSettings)
    if settings.loss_type != "sigmoid":
        raise ValueError(f"S-DPO has its own loss (a softmax over the negatives); loss_type {settings.loss_type!r} is DPO's")
    if settings.precompute_ref_log_probs:
        raise ValueError("S-DPO scores the reference per batch; precompute_ref_log_probs is DPO's")
    rows = prepare_rows(records, pad_empty_to=pad_empty_to)
    if not rows:
        raise ValueError("no preference records with a negative to train on")
    out = Path(out)
    callbacks = _callbacks(out, settings)
    if begin_stage(
        out,
        stage_record(
            "sdpo", settings, model=model_dir, data=records, reference=Path(reference_dir or model_dir), pad_empty_to=pad_empty_to
        ),
    ):
        return None
    policy, tok = _load_trainable(Path(model_dir), settings)
    reference = _frozen(load_model(reference_dir or model_dir)[0])
    args = DPOConfig(**_trl_common(out, settings), beta=settings.beta)
    trainer = SDPOTrainer(
        model=policy,
        ref_model=reference,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tok,
        title_range=title_range(tok) if settings.title_logps else None,
        anchor=settings.anchor,
        callbacks=callbacks,
    )
    return quiet_trainer(trainer, "S-DPO")


def sdpo(
    model_dir: str | Path,
    records: Sequence[dict],
    out: str | Path,
    settings: StageSettings = PreferenceSettings(),
    reference_dir: str | Path | None = None,
    pad_empty_to: int | None = None,
) -> Path:
    """S-DPO over lists of negatives (masked), trained like DPO (`sdpo_trainer`); resumes the same run from its last
    checkpoint."""
    out = Path(out)
    trainer = sdpo_trainer(model_dir, records, out, settings, reference_dir, pad_empty_to)
    if trainer is None:
        return out / "final"
    _train(trainer, out)
    return _finish(trainer, trainer.processing_class, out)


def curriculum(
    model_dir: str | Path,
    stages: Sequence[tuple[str, str | Path]],
    out: str | Path,
    settings: StageSettings = PreferenceSettings(),
    stage_fns: Mapping[str, StageFn] | None = None,
) -> Path:
    """Stages of preference training (`stage_fns` by kind; default DPO and S-DPO), each starting from the previous
    stage's weights for both policy and reference (the seed's headline method: clusterout_low, then clusterin_low).
    A rerun resumes the same curriculum only, skipping its finished stages."""
    from negrec.llm.stage_runs import begin_stage, stage_record

    out, settings = Path(out), as_settings(settings, PreferenceSettings)
    data = [(kind, read_records(path)[0]) for kind, path in stages]
    stage_fn = dict(stage_fns or {"dpo": dpo, "sdpo": sdpo})
    unknown = [kind for kind, _ in stages if kind not in stage_fn]
    if unknown:
        raise ValueError(f"unknown curriculum stage kind {unknown[0]!r}; choose one of {sorted(stage_fn)}")
    begin_stage(out, stage_record("curriculum", settings, model=model_dir, data=data, stage_files=[str(p) for _, p in stages]))
    current = Path(model_dir)
    for i, (kind, records) in enumerate(data, start=1):
        current = stage_fn[kind](current, records, out / f"stage{i}-{kind}", settings)
    return current
