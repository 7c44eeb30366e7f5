"""The softmax-family CF epochs against their floor, their GEMM limit and a textbook PyTorch epoch, and LightGCN's
CSR propagation against COO — all measured in the same process, interleaved, same threads.

- floor: the same batches' inherent work with no autograd and no masks — per batch the logits GEMM, log-sum-exp,
  one subtract-and-exp pass, the two gradient GEMMs; GEMM limit: the three GEMMs alone.
- textbook: a plain PyTorch epoch doing the same work — the batch's embeddings, the (B, C) logits (−logQ for MNS),
  the known positives masked (the same membership lookup, inline), `F.cross_entropy`, backward, SGD on the tables.
- LightGCN: one epoch of negrec's trainer (BPR, uniform negatives) with the CSR product and its symmetric backward,
  and with the textbook COO `torch.sparse.mm` swapped in; NDCG@10 of both after the same epochs (fixed seed).
"""

from __future__ import annotations

import contextlib
import time
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from cf_timing import negrec_epochs
from timing import summary

from negrec.cf.models import normalized_adjacency
from negrec.cf.trainer import TrainConfig, train, validation_score
from negrec.data.interactions import Interactions
from negrec.sampling.registry import parse_sampler

BATCH, DIM = 1024, 64
# spec, and the extra shared uniform items (in-batch, MNS) or the popularity negatives per row (sampled softmax)
SIDES = {"inbatch": ("inbatch", 0), "mns128": ("mns:128", 128), "sampled64": ("popularity:0.75:64+logq", 64)}
ALPHA = 0.75


def _batches(ml: Interactions, rng: np.random.Generator):
    """One epoch's shuffled (users, positives) batches, as negrec's trainer cuts them."""
    users, items = ml.entry_users(), ml.matrix.indices.astype(np.int64)
    order = rng.permutation(len(users))
    for b in range(0, len(order), BATCH):
        rows = order[b : b + BATCH]
        yield users[rows], items[rows]


def floor_epoch(ml: Interactions, extra: int, gemm_only: bool, rng: np.random.Generator) -> float:
    """Seconds of the inherent arithmetic of one epoch (random tables of the real shapes, no autograd)."""
    table_u = torch.randn(ml.n_users, DIM)
    table_i = torch.randn(ml.n_items, DIM)
    t0 = time.perf_counter()
    with torch.no_grad():
        for u, p in _batches(ml, rng):
            cand = np.concatenate([p, rng.integers(0, ml.n_items, extra)])
            users, items = table_u[torch.from_numpy(u)], table_i[torch.from_numpy(cand)]
            logits = users @ items.T
            if not gemm_only:
                logits.sub_(torch.logsumexp(logits, 1, keepdim=True)).exp_()
            torch.mm(logits, items)
            torch.mm(logits.T, users)
    return time.perf_counter() - t0


def _popularity(ml: Interactions) -> np.ndarray:
    """The proposal of `popularity:0.75:K`: p_j ∝ count_j^0.75."""
    weights = np.bincount(ml.matrix.indices, minlength=ml.n_items).astype(np.float64) ** ALPHA
    return weights / weights.sum()


def floor_epoch_per_row(ml: Interactions, k: int, gemm_only: bool, rng: np.random.Generator) -> float:
    """Seconds of the inherent work of a per-row sampled softmax epoch: the rows gathered, the (B, 1 + K) scores as
    batched products, the softmax, both gradient products and the scatter of the item gradients (no autograd)."""
    table_u = torch.randn(ml.n_users, DIM)
    table_i = torch.randn(ml.n_items, DIM)
    proposal = _popularity(ml)
    t0 = time.perf_counter()
    with torch.no_grad():
        for u, p in _batches(ml, rng):
            cand = torch.from_numpy(np.concatenate([p[:, None], rng.choice(ml.n_items, (len(p), k), p=proposal)], 1))
            users, items = table_u[torch.from_numpy(u)], table_i[cand.reshape(-1)].view(len(u), k + 1, DIM)
            scores = torch.bmm(items, users.unsqueeze(2)).squeeze(2)
            if not gemm_only:
                scores = torch.softmax(scores, 1)
            torch.bmm(scores.unsqueeze(1), items)
            table_i.index_add_(0, cand.reshape(-1), (scores.unsqueeze(2) * users.unsqueeze(1)).view(-1, DIM), alpha=0.0)
    return time.perf_counter() - t0


def textbook_epoch_per_row(ml: Interactions, k: int, lr: float, rng: np.random.Generator) -> float:
    """Seconds of one plain PyTorch epoch of a per-row sampled softmax with logQ (K popularity draws per row, the
    user's known positives masked, `F.cross_entropy`, SGD on the tables)."""
    user_table = torch.nn.Embedding(ml.n_users, DIM)
    item_table = torch.nn.Embedding(ml.n_items, DIM)
    opt = torch.optim.SGD([*user_table.parameters(), *item_table.parameters()], lr=lr)
    proposal = _popularity(ml)
    t0 = time.perf_counter()
    for u, p in _batches(ml, rng):
        neg = rng.choice(ml.n_items, (len(p), k), p=proposal)
        keep = torch.from_numpy(np.concatenate([np.ones((len(p), 1), bool), ~ml.contains(u, neg)], 1))
        cand = torch.from_numpy(np.concatenate([p[:, None], neg], 1))
        logits = torch.einsum("bd,bkd->bk", user_table(torch.from_numpy(u)), item_table(cand))
        logits = logits - torch.from_numpy(np.log(k * proposal[cand.numpy()]).astype(np.float32))
        loss = F.cross_entropy(logits.masked_fill(~keep, float("-inf")), torch.zeros(len(u), dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def textbook_epoch(ml: Interactions, extra: int, lr: float, rng: np.random.Generator) -> float:
    """Seconds of one plain PyTorch epoch of the same softmax (known positives masked, SGD on the tables)."""
    user_table = torch.nn.Embedding(ml.n_users, DIM)
    item_table = torch.nn.Embedding(ml.n_items, DIM)
    opt = torch.optim.SGD([*user_table.parameters(), *item_table.parameters()], lr=lr)
    counts = np.bincount(ml.matrix.indices, minlength=ml.n_items).astype(np.float64)
    t0 = time.perf_counter()
    for u, p in _batches(ml, rng):
        cand = np.concatenate([p, rng.integers(0, ml.n_items, extra)])
        keep = torch.from_numpy(~ml.contains(u, np.broadcast_to(cand, (len(u), len(cand)))))
        keep.diagonal().fill_(True)
        logits = user_table(torch.from_numpy(u)) @ item_table(torch.from_numpy(cand)).T
        if extra:  # MNS: log expected counts of each candidate (batch share of positives + uniform share)
            q = len(p) * counts[cand] / counts.sum() + extra / ml.n_items
            logits = logits - torch.from_numpy(np.log(q).astype(np.float32))
        loss = F.cross_entropy(logits.masked_fill(~keep, float("-inf")), torch.arange(len(u)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def softmax_floor(ml: Interactions, epochs: int, repeats: int) -> dict:
    """In-batch and MNS epochs of negrec against the floor, the GEMM limit and the textbook, interleaved."""
    config = TrainConfig(epochs=epochs, batch_size=BATCH, reg=0.0, model="mf-nobias", optimizer="sgd", lr=0.001, loss="softmax")
    rng = np.random.default_rng(0)
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        for side, (spec, n) in SIDES.items():
            times.setdefault(f"negrec_{side}", []).extend(negrec_epochs(ml, spec, config, 1))
            per_row = side == "sampled64"
            floor, textbook = (floor_epoch_per_row, textbook_epoch_per_row) if per_row else (floor_epoch, textbook_epoch)
            for name, fn in (
                ("floor", lambda: floor(ml, n, False, rng)),
                ("gemm_limit", lambda: floor(ml, n, True, rng)),
                ("textbook", lambda: textbook(ml, n, config.lr, rng)),
            ):
                fn()  # warm-up, as negrec's first epoch is dropped
                times.setdefault(f"{name}_{side}", []).extend(fn() for _ in range(epochs - 1))
    med = {k: summary(v)["median_seconds"] for k, v in times.items()}
    out = {
        "work": f"MovieLens 100K, batches of {BATCH}, {DIM} factors, --optimizer sgd; in-batch: the batch's positives "
        "shared (1,023 negatives per positive), MNS: + 128 uniform items with logQ; accidental hits masked; sampled softmax: "
        "64 popularity^0.75 negatives per row with logQ (negrec redraws a known positive, the textbook masks it); "
        "its floor counts the gather, batched products, softmax, gradient products and scatter",
        "epochs": {k: summary(v) for k, v in times.items()},
    }
    for side in SIDES:
        out[side] = {
            "negrec_seconds": med[f"negrec_{side}"],
            "floor_seconds": med[f"floor_{side}"],
            "gemm_limit_seconds": med[f"gemm_limit_{side}"],
            "textbook_seconds": med[f"textbook_{side}"],
            "ratio_to_floor": med[f"negrec_{side}"] / med[f"floor_{side}"],
            "ratio_to_gemm_limit": med[f"negrec_{side}"] / med[f"gemm_limit_{side}"],
            "ratio_to_textbook": med[f"negrec_{side}"] / med[f"textbook_{side}"],
        }
    return out


def _coo_adjacency(train) -> torch.Tensor:
    """The textbook's adjacency: the same normalised matrix as a coalesced COO tensor."""
    return normalized_adjacency(train).to_sparse_coo().coalesce()


def _coo_product(adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The textbook propagation: COO `torch.sparse.mm`, autograd through it."""
    return torch.sparse.mm(adjacency, x)


def lightgcn_csr_vs_coo(ml: Interactions, valid: Interactions, epochs: int, repeats: int) -> dict:
    """LightGCN epochs (BPR, uniform) with CSR vs COO propagation; NDCG@10 of both after `epochs` (seed 0)."""
    config = TrainConfig(epochs=epochs, model="lightgcn", reg=1e-4, seed=0)
    times: dict[str, list[float]] = {"csr": [], "coo": []}
    ndcg: dict[str, float] = {}
    for _ in range(repeats):
        for side in ("csr", "coo"):
            with contextlib.ExitStack() as patches:
                if side == "coo":
                    patches.enter_context(mock.patch("negrec.cf.trainer.normalized_adjacency", _coo_adjacency))
                    patches.enter_context(mock.patch("negrec.cf.models._SymmetricProduct.apply", _coo_product))
                result = train(ml, parse_sampler("uniform"), config, restore_best=False)
                ndcg[side] = validation_score(result.model, ml.binary(), valid.binary(), "NDCG@10")
            times[side] += np.diff([h["seconds"] for h in result.history]).tolist()
    med = {k: summary(v)["median_seconds"] for k, v in times.items()}
    return {
        "work": f"LightGCN (3 layers, {config.dim} factors, batch {config.batch_size}, Adam), BPR with uniform negatives, "
        "MovieLens 100K ratio split; propagation on every batch",
        "csr_seconds": med["csr"],
        "coo_seconds": med["coo"],
        "ratio_csr_to_coo": med["csr"] / med["coo"],
        "ndcg@10": ndcg,
        "ndcg_difference": abs(ndcg["csr"] - ndcg["coo"]),
        "epochs": {k: summary(v) for k, v in times.items()},
    }
