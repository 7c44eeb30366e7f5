"""S-DPO (softmax DPO over several negatives) implemented in the project: TRL's DPO takes one rejected
answer per prompt. Loss (SEED-METHOD §2.8), with r(y) = log πθ(y|x) − log πref(y|x) summed over tokens:

    L = −log σ( −log Σ_k exp( β·(r(y_k⁻) − r(y⁺)) ) ) = softplus( logsumexp_k β·(r(y_k⁻) − r(y⁺)) )

Missing negatives are masked out of the sum, so a record with fewer negatives is handled exactly; the
seed's padding with empty-string answers is available only on request (`pad_empty_to`). Options shared
with DPO: `anchor` adds anchor × the mean NLL of the chosen answers' tokens (RPO; TRL's loss type "sft"),
`title_logps` scores title tokens with a softmax over catalog titles only (`negrec.llm.heads`).
"""

from __future__ import annotations

import contextlib
import json
import math
import pickle
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from negrec.data.io import write_json
from negrec.errors import DataError
from negrec.launch import launch_rank
from negrec.llm.settings import StageSettings


def title_range(tokenizer) -> tuple[int, int]:
    """[first, last + 1) title token ids of a title-token tokenizer (for title-restricted scoring)."""
    if not hasattr(tokenizer, "title_offset"):
        raise ValueError("title_logps needs a title-token model (negrec llm init-tiny --titles tokens)")
    return tokenizer.title_offset, tokenizer.title_offset + len(tokenizer.titles)


def sdpo_loss(
    policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor, ref_rejected: torch.Tensor,
    mask: torch.Tensor, beta: float = 0.1,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mean S-DPO loss over rows; chosen (B,), rejected (B, K), mask (B, K) True = a real negative."""
    r_chosen = policy_chosen - ref_chosen
    r_rejected = policy_rejected - ref_rejected
    logits = (beta * (r_rejected - r_chosen.unsqueeze(1))).masked_fill(~mask, float("-inf"))
    loss = F.softplus(torch.logsumexp(logits, dim=1))
    best_rejected = r_rejected.masked_fill(~mask, float("-inf")).max(dim=1).values
    stats = {
        "rewards/chosen": (beta * r_chosen).mean().detach(),
        "rewards/accuracies": (r_chosen > best_rejected).float().mean().detach(),
        "rewards/margins": (beta * (r_chosen - best_rejected)).mean().detach(),
    }
    return loss.mean(), stats


def completion_scores(model, tokenizer, prompts: Sequence[str], completions: Sequence[str], max_length: int = 512,
                      title_range: tuple[int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ log p(completion tokens | prompt), number of completion tokens) per pair; the completion gets EOS
    appended and starts where the tokenised prompt and prompt + completion diverge (as TRL's DPO does).
    With `title_range` a title token is scored by a softmax over the title tokens only (`negrec.llm.heads`)."""
    from negrec.llm.heads import label_logprobs
    from negrec.llm.train import common_prefix

    device = next(model.parameters()).device
    rows, starts = [], []
    for prompt, completion in zip(prompts, completions):
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        full = tokenizer(prompt + completion + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        start = common_prefix(p_ids, full)
        cut = max(0, len(full) - max_length)  # keep the end: the completion is what is scored
        rows.append(full[cut:])
        starts.append(max(start - cut, 1))
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    score = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (r, s) in enumerate(zip(rows, starts)):
        ids[i, : len(r)] = torch.tensor(r)
        attn[i, : len(r)] = 1
        score[i, s : len(r)] = True
    ids, attn, score = ids.to(device), attn.to(device), score.to(device)
    logits = model(input_ids=ids, attention_mask=attn, use_cache=False).logits[:, :-1]
    keep, targets = score[:, 1:], ids[:, 1:]
    picked = label_logprobs(logits[keep], targets[keep], title_range).gather(1, targets[keep][:, None]).squeeze(1)
    sums = torch.zeros(len(rows), device=picked.device, dtype=picked.dtype).index_add(0, keep.nonzero()[:, 0], picked)
    return sums, keep.sum(dim=1)


def completion_logps(model, tokenizer, prompts: Sequence[str], completions: Sequence[str], max_length: int = 512,
                     title_range: tuple[int, int] | None = None) -> torch.Tensor:
    """Σ log p(completion tokens | prompt) per pair (see `completion_scores`)."""
    return completion_scores(model, tokenizer, prompts, completions, max_length, title_range)[0]


def batch_logps(model, tokenizer, prompts, chosen, rejected, mask, max_length, title_range=None):
    """Chosen (B,), rejected (B, K) completion log-probs and the chosen answers' token counts (B,), in one
    forward over all sequences."""
    b, k = mask.shape
    flat_prompts = list(prompts) + [p for p in prompts for _ in range(k)]
    flat = list(chosen) + [rejected[i][j] if mask[i, j] else "" for i in range(b) for j in range(k)]
    logps, counts = completion_scores(model, tokenizer, flat_prompts, flat, max_length, title_range)
    return logps[:b], logps[b:].reshape(b, k), counts[:b]


def prepare_rows(records: Sequence[dict], max_negatives: int = 5, pad_empty_to: int | None = None) -> list[tuple[str, str, list[str]]]:
    """(prompt, chosen, negatives) with completions starting on the newline that follows the prompt."""
    def completion(text: str) -> str:
        return text if text.startswith("\n") else "\n" + text

    rows = []
    for rec in records:
        rejected = rec["rejected"] if isinstance(rec["rejected"], list) else [rec["rejected"]]
        negs = [completion(x) for x in rejected if x != ""][:max_negatives]
        if pad_empty_to:
            negs += [""] * max(0, pad_empty_to - len(negs))  # "" becomes an EOS-only answer, as in the seed
        if negs:
            rows.append((rec["prompt"], completion(rec["chosen"]), negs))
    return rows


def train_sdpo(policy, reference, tokenizer, records: Sequence[dict], out: str | Path, settings: StageSettings = StageSettings(),
               *, max_negatives: int = 5, pad_empty_to: int | None = None) -> list[dict]:
    """Train `policy` against the frozen `reference`; checkpoints every `save_steps` under `out/` and resumes
    from the newest one. Returns the log (one dict per optimiser step), also written to `out/log.jsonl`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = prepare_rows(records, max_negatives, pad_empty_to)
    # under a multi-process launch each process takes its share of every global batch (batch size × gradient
    # accumulation × processes, as TRL counts it) and DDP averages the gradients; alone, nothing is wrapped
    launched = launch_rank()
    rank, world = launched or (0, 1)
    trained = _distributed(policy) if launched else policy
    chunk = settings.batch_size * settings.grad_accum
    # a last global batch smaller than the number of processes would leave a process idle (and DDP waiting): dropped
    per_epoch = len(rows) // (chunk * world) + (len(rows) % (chunk * world) >= world)
    total = per_epoch * max(1, round(settings.epochs))
    optimizer = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=settings.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, settings.warmup_steps)) * max(0.0, 1 - s / max(1, total)))
    step, log = 0, []
    last = _latest_checkpoint(out)
    if last is not None:
        try:  # tensors and plain values only: a planted file cannot run code through pickle
            state = torch.load(last / "trainer.pt", weights_only=True)
        except pickle.UnpicklingError:
            raise DataError("is not an S-DPO checkpoint (it holds more than tensors and plain values); move it "
                            "away to start over", path=last / "trainer.pt") from None
        policy.load_state_dict(state["policy"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, log = state["step"], state["log"]
    if rank == 0:
        write_json(out / "settings.json", {**asdict(settings), "max_negatives": max_negatives, "pad_empty_to": pad_empty_to})
    titles = title_range(tokenizer) if settings.title_logps else None
    reference.eval()
    policy.train()
    while step < total:
        epoch, within = divmod(step, per_epoch)
        order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(settings.seed + epoch)).tolist()
        global_rows = order[within * chunk * world : (within + 1) * chunk * world]
        batch_rows = [rows[i] for i in global_rows[rank::world]]  # round robin: every process gets a share
        optimizer.zero_grad()
        totals: dict[str, float] = {}
        starts = range(0, len(batch_rows), settings.batch_size)
        for start in starts:
            micro = batch_rows[start : start + settings.batch_size]
            # DDP all-reduces once per step per process: the last micro-batch's forward + backward syncs what the
            # earlier ones accumulated (processes may hold different numbers of micro-batches)
            quiet = launched and start != starts[-1]
            with trained.no_sync() if quiet else contextlib.nullcontext():
                loss, stats = _micro_loss(trained, reference, tokenizer, micro, settings, titles)
                # weights of the global batch: DDP's average over processes then gives the global mean exactly
                weight = len(micro) * world / len(global_rows)
                (loss * weight).backward()
            for key, value in {"loss": loss.detach(), **stats}.items():
                totals[key] = totals.get(key, 0.0) + float(value) * weight / world
        optimizer.step()
        schedule.step()
        step += 1
        if launched:
            totals = _sum_over_processes(totals)
        log.append({"step": step, "epoch": epoch + (within + 1) / per_epoch, "lr": schedule.get_last_lr()[0], **totals})
        if rank == 0 and (step % settings.save_steps == 0 or step == total):
            _save(out / f"checkpoint-{step}", policy, optimizer, schedule, step, log)
    if rank == 0:
        (out / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    return log


def _micro_loss(policy, reference, tokenizer, micro, settings: StageSettings, titles):
    """S-DPO loss (plus the anchor term) and its statistics on one micro-batch of (prompt, chosen, negatives)."""
    k = max(len(r[2]) for r in micro)
    mask = torch.tensor([[j < len(r[2]) for j in range(k)] for r in micro])
    prompts, chosen, rejected = [r[0] for r in micro], [r[1] for r in micro], [r[2] for r in micro]
    pc, pr, n_chosen = batch_logps(policy, tokenizer, prompts, chosen, rejected, mask, settings.max_length, titles)
    with torch.no_grad():
        rc, rr, _ = batch_logps(reference, tokenizer, prompts, chosen, rejected, mask, settings.max_length, titles)
    loss, stats = sdpo_loss(pc, pr, rc.to(pc.device), rr.to(pc.device), mask.to(pc.device), settings.beta)
    if settings.anchor:  # RPO's NLL term on the chosen answers, as TRL's DPO loss type "sft" computes it
        stats["nll"] = -pc.sum() / n_chosen.sum().clamp(min=1)
        loss = loss + settings.anchor * stats["nll"]
    return loss, stats


def _distributed(policy):
    """The policy wrapped for data-parallel training across the launched processes (gloo on the CPU)."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if next(policy.parameters()).is_cuda else "gloo")
    return torch.nn.parallel.DistributedDataParallel(policy)


def _sum_over_processes(totals: dict[str, float]) -> dict[str, float]:
    """Each logged statistic over the global batch: the processes' weighted shares added up."""
    import torch.distributed as dist

    keys = sorted(totals)
    values = torch.tensor([totals[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(values)
    return {k: float(v) for k, v in zip(keys, values)}


def _latest_checkpoint(out: Path) -> Path | None:
    found = [(int(p.name.split("-")[1]), p) for p in out.glob("checkpoint-*") if (p / "trainer.pt").is_file()]
    return max(found)[1] if found else None


def _save(folder: Path, policy, optimizer, schedule, step: int, log: list[dict]) -> None:
    """A checkpoint is complete only once its trainer.pt is renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "trainer.pt.tmp"
    torch.save({"policy": policy.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                "step": step, "log": log}, tmp)
    tmp.replace(folder / "trainer.pt")
