"""MF + BPR + row-sparse SGD batches in one compiled loop (numba), for whole chunks of an epoch at a time.

Why: on MovieLens-sized data an epoch is a few dozen batches of ~30 small torch kernels each, and per-kernel
overhead, not arithmetic, sets its time. This kernel does exactly what `BatchStep.mf_step` (cf/steps.py) does under
`optimizer="sgd"` with the BPR loss — per batch: scores of the gathered rows from the weights before the step,
the masked-mean BPR loss plus `reg` × the squared norm of the gathered factor rows / B, gradients of the
gathered rows, and the in-place step −lr·B·gradient added per occurrence (index_add) — and, for DNS, the hardest
valid candidate of each row's pool (the first maximum, as `NegativeSampler.sample`). The torch path stays the
reference (tests compare both); every other loss, optimizer, model or selection uses it.
"""

from __future__ import annotations

import numpy as np
import torch

from negrec.cf.models import MF


def applies(model: torch.nn.Module, config) -> bool:
    """Whether the fused kernel can train this model with this config (MF on the CPU, BPR, sgd); the trainer also
    needs the chunk's negatives drawn ahead (model-independent samplers) or a DNS pool with one pick per row."""
    return (
        config.engine == "fused"
        and isinstance(model, MF)
        and config.loss == "bpr"
        and config.optimizer == "sgd"
        and next(model.parameters()).device.type == "cpu"
    )


def compile_note() -> str | None:
    """A line to show before the first fused epoch when numba has not compiled the loop yet on this machine (it then
    takes about a minute, once: the compiled code is cached beside the module for every later process)."""
    from pathlib import Path

    cache = Path(__file__).with_name("__pycache__")
    if any(cache.glob("fused_loop.run_batches-*.nbi")):
        return None
    return "compiling the fused training loop (numba; once per machine, cached for later runs) …"


def run_chunk(
    model: MF, config, users: np.ndarray, positives: np.ndarray, items: np.ndarray, ok: np.ndarray, *, hardest: bool
) -> tuple[float, int]:
    """Train on one chunk's rows in batches of `config.batch_size`: `items`/`ok` are the drawn negatives (B, k),
    or with `hardest` each row's candidate pool (B, M). Returns (sum of batch losses, number of batches)."""
    from negrec.cf.fused_loop import run_batches

    with torch.no_grad():
        tables = [model.user.weight, model.item.weight]
        if model.biases:
            tables += [model.user_bias.weight.view(-1), model.item_bias.weight.view(-1), model.global_bias]
        else:
            tables += [torch.zeros(1), torch.zeros(1), torch.zeros(1)]
        arrays = [t.detach().numpy() for t in tables]  # views: the kernel updates the model's weights in place
        return run_batches(
            *arrays,
            np.ascontiguousarray(users, dtype=np.int64),
            np.ascontiguousarray(positives, dtype=np.int64),
            np.ascontiguousarray(items, dtype=np.int64),
            np.ascontiguousarray(ok, dtype=np.bool_),
            hardest,
            config.batch_size,
            float(config.lr),
            float(config.reg),
            float(config.margin),
            model.biases,
        )
