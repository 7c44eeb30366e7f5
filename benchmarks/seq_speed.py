"""One ML-1M SASRec epoch: negrec's full cross-entropy epoch against a textbook PyTorch SASRec epoch and against
negrec's own BCE-1 epoch, and negrec's sampled cross-entropy epoch (3,000 negatives) against the textbook's, measured
in the same process.

The same work on each side: one pass over the 6,040 users' training sequences (their last 201 training items),
embedding 64, 2 blocks, 1 head, max length 200, dropout 0.1, batch 128, Adam 1e-3, the same torch threads.
- textbook: every sequence left-padded to 200 as in the SASRec reference, `nn.TransformerEncoder` (pre-norm, the
  causal mask), logits of every position over every item and `F.cross_entropy` with the padding ignored;
- negrec full CE (`seq/`): length-bucketed right-padded batches (no padding mask needed), the blockwise full
  cross-entropy (no positions × items matrix stored);
- negrec BCE-1: one uniform negative per position, drawn outside the user's sequence — the published SASRec row's
  objective (as `seq_quality.py` trains it);
- sampled CE with 3,000 uniform negatives shared by a sequence's positions (SASRec+ 3000): the textbook model with
  each sequence's negatives gathered from the item table, a batched product for their logits, the positive's logit
  beside them and `F.cross_entropy` (accidental hits not masked), against negrec's grouped sampled softmax
  (`--loss softmax --sampler uniform:3000 --share sequence`, draws outside the user's sequence included).
A warm-up of a few batches per side, then `--repeats` epochs of each side interleaved; medians and their ratios.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from negrec.data.histories import leave_one_out, load_sasrec
from negrec.sampling.registry import parse_sampler
from negrec.seq.settings import SeqConfig
from negrec.seq.trainer import SeqEpochs

MAX_LEN, DIM, BATCH, NEGATIVES = 200, 64, 128, 3000


class TextbookSASRec(nn.Module):
    """SASRec as a textbook writes it with torch's own transformer: left padding (id 0), learned positions,
    `nn.TransformerEncoder` with the causal mask, tied output embeddings."""

    def __init__(self, n_items: int):
        super().__init__()
        self.item = nn.Embedding(n_items + 1, DIM, padding_idx=0)
        self.position = nn.Embedding(MAX_LEN, DIM)
        layer = nn.TransformerEncoderLayer(DIM, 1, DIM, dropout=0.1, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(DIM)
        self.dropout = nn.Dropout(0.1)
        self.register_buffer("causal", torch.triu(torch.ones(MAX_LEN, MAX_LEN, dtype=torch.bool), 1))

    def hidden(self, items: torch.Tensor) -> torch.Tensor:
        """(B, L, DIM) states of every position."""
        x = self.dropout(self.item(items) * DIM**0.5 + self.position.weight)
        x = self.encoder(x, mask=self.causal, is_causal=True)  # as the SASRec references: the causal mask only
        return self.norm(x)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        return self.hidden(items) @ self.item.weight[1:].T  # (B, L, n_items)


def full_ce(model: TextbookSASRec, inputs: torch.Tensor, labels: torch.Tensor, _) -> torch.Tensor:
    """Cross-entropy over every item at every position."""
    logits = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def sampled_ce(model: TextbookSASRec, inputs: torch.Tensor, labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Cross-entropy over the positive and 3,000 uniform negatives drawn for each sequence."""
    hidden, table = model.hidden(inputs), model.item.weight[1:]
    keep = labels >= 0
    positive = (hidden * table[labels.clamp(min=0)]).sum(-1, keepdim=True)
    negatives = table[torch.randint(0, len(table), (len(inputs), NEGATIVES), generator=gen)]  # (B, K, DIM)
    logits = torch.cat([positive, hidden @ negatives.transpose(1, 2)], -1)[keep]  # (positions, 1 + K)
    return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long))


def textbook_batches(histories, rng: np.random.Generator):
    """(inputs, labels) left-padded to MAX_LEN (item ids + 1; label −100 where there is nothing to predict)."""
    users = np.flatnonzero(histories.lengths >= 2)
    order = rng.permutation(users)
    for start in range(0, len(order), BATCH):
        rows = order[start : start + BATCH]
        inputs = np.zeros((len(rows), MAX_LEN), dtype=np.int64)
        labels = np.full((len(rows), MAX_LEN), -100, dtype=np.int64)
        for r, u in enumerate(rows):
            window = histories.sequence(u)[-(MAX_LEN + 1) :]
            n = len(window) - 1
            inputs[r, MAX_LEN - n :] = window[:-1] + 1
            labels[r, MAX_LEN - n :] = window[1:]
        yield torch.from_numpy(inputs), torch.from_numpy(labels)


def textbook_epoch(model, optimizer, histories, rng, loss_of=full_ce, limit: int | None = None) -> float:
    """Seconds of one textbook epoch (or its first `limit` batches) with the loss `loss_of`."""
    model.train()
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    t0 = time.perf_counter()
    for b, (inputs, labels) in enumerate(textbook_batches(histories, rng)):
        if limit is not None and b >= limit:
            break
        loss = loss_of(model, inputs, labels, gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - t0


def negrec_epoch(trainer: SeqEpochs, epoch: int) -> float:
    """Seconds of one negrec epoch (the trainer's own training time, without validation)."""
    return trainer.epoch(epoch)["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "seq_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    histories, _ = load_sasrec(args.data_dir / "movielens-1m-sasrec")
    split = leave_one_out(histories)
    torch.manual_seed(0)
    textbook = TextbookSASRec(histories.n_items)
    optimizer = torch.optim.Adam(textbook.parameters(), lr=1e-3)
    full = SeqEpochs(split, None, SeqConfig(loss="ce"), None)
    bce = SeqEpochs(split, parse_sampler("uniform"), SeqConfig(loss="bce"), None)
    sampled = SeqEpochs(split, parse_sampler(f"uniform:{NEGATIVES}"), SeqConfig(loss="softmax", share="sequence"), None)
    rng = np.random.default_rng(0)
    for loss_of in (full_ce, sampled_ce):  # warm-up: allocator, kernels, lazy init
        textbook_epoch(textbook, optimizer, split.train, rng, loss_of, limit=3)
    times = {k: [] for k in ("textbook", "negrec_full_ce", "negrec_bce1", "textbook_sampled_3000", "negrec_sampled_3000")}
    negrec_epoch(full, 0), negrec_epoch(bce, 0), negrec_epoch(sampled, 0)  # warm-up epochs, not counted
    for r in range(args.repeats):
        times["textbook"].append(textbook_epoch(textbook, optimizer, split.train, rng))
        times["negrec_full_ce"].append(negrec_epoch(full, r + 1))
        times["negrec_bce1"].append(negrec_epoch(bce, r + 1))
        times["textbook_sampled_3000"].append(textbook_epoch(textbook, optimizer, split.train, rng, sampled_ce))
        times["negrec_sampled_3000"].append(negrec_epoch(sampled, r + 1))
        print({k: round(v[-1], 2) for k, v in times.items()}, flush=True)
    median = {k: float(np.median(v)) for k, v in times.items()}
    padded = int(sum(min(n, MAX_LEN + 1) - 1 > 0 for n in split.train.lengths)) * MAX_LEN
    result = {
        "protocol": " ".join(__doc__.split("\n\n")[1].split()),
        "threads": args.threads,
        "torch": torch.__version__,
        "repeats": args.repeats,
        "seconds": times,
        "median_seconds": median,
        "ratio_full_ce_to_textbook": median["negrec_full_ce"] / median["textbook"],
        "ratio_full_ce_to_bce1": median["negrec_full_ce"] / median["negrec_bce1"],
        "ratio_sampled_3000_to_textbook": median["negrec_sampled_3000"] / median["textbook_sampled_3000"],
        "target_ratio_to_textbook": 0.5,
        "positions_trained": full.data.positions,
        "textbook_padded_positions": padded,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"full-CE epoch: negrec {median['negrec_full_ce']:.1f} s, textbook {median['textbook']:.1f} s "
        f"({result['ratio_full_ce_to_textbook']:.2f}×; target ≤ 0.5×); negrec BCE-1 {median['negrec_bce1']:.1f} s; sampled CE "
        f"3000: negrec {median['negrec_sampled_3000']:.1f} s, textbook {median['textbook_sampled_3000']:.1f} s "
        f"({result['ratio_sampled_3000_to_textbook']:.2f}×) → {args.out}"
    )


if __name__ == "__main__":
    main()
