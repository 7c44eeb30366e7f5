"""Sequential recommenders: the leave-one-out split against a plain loop, the SASRec file loader, the model's
causality and padding invariance, every objective against a hand-built reference (padding and accidental hits
masked), pairings refused by name, and a SASRec run that repeats bitwise at a fixed thread count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from negrec.data.histories import UserHistories, leave_one_out, load_sasrec
from negrec.losses import bce_loss, full_softmax_loss, gbce_beta, grouped_softmax_loss, softmax_loss
from negrec.sampling.registry import parse_sampler
from negrec.seq.batches import TrainingSequences, last_inputs
from negrec.seq.models import GRU4Rec, SASRec
from negrec.seq.objective import SeqObjective, check_objective
from negrec.seq.trainer import SeqConfig, train_seq

histories_strategy = st.lists(st.lists(st.integers(0, 9), min_size=0, max_size=8), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(histories_strategy)
def test_leave_one_out_matches_a_plain_loop(sequences):
    split = leave_one_out(UserHistories.from_lists(sequences, 10))
    for u, seq in enumerate(sequences):
        if len(seq) >= 3:
            expected_train, expected_valid, expected_test = seq[:-2], seq[-2], seq[-1]
        else:
            expected_train, expected_valid, expected_test = seq, -1, -1
        assert split.train.sequence(u).tolist() == expected_train
        assert split.valid[u] == expected_valid and split.test[u] == expected_test
        assert split.inputs("test").sequence(u).tolist() == (seq[:-1] if len(seq) >= 3 else seq[:-1])
    assert split.users("test").tolist() == [u for u, s in enumerate(sequences) if len(s) >= 3]


def test_sasrec_file_keeps_line_order(tmp_path):
    (tmp_path / "data.txt").write_text("7 30\n5 10\n7 20\n5 30\n7 10\n")
    histories, catalog = load_sasrec(tmp_path)
    assert histories.user_ids.tolist() == [5, 7] and catalog.item_ids.tolist() == [10, 20, 30]
    assert histories.sequence(0).tolist() == [0, 2] and histories.sequence(1).tolist() == [2, 1, 0]


def test_shared_ml1m_file(data_dir):
    histories, catalog = load_sasrec(data_dir / "movielens-1m-sasrec")
    assert (histories.n_users, histories.n_items, len(histories.items)) == (6040, 3416, 999611)
    assert catalog.has_genres and catalog.titles[0]


def test_batches_pad_right_and_cover_every_position_once():
    h = UserHistories.from_lists([[1, 2, 3, 4], [5, 6], [7], [1, 2, 3, 4, 5, 6, 7]], 9)
    data = TrainingSequences(h, max_len=4)
    seen = []
    for batch in data.batches(2, np.random.default_rng(0)):
        for u, inputs, labels in zip(batch.users.tolist(), batch.inputs.tolist(), batch.labels.tolist()):
            n = sum(x >= 0 for x in labels)
            assert inputs[n:] == [9] * (len(inputs) - n) and labels[n:] == [-1] * (len(labels) - n)
            window = h.sequence(u)[-5:].tolist()
            assert inputs[:n] == window[:-1] and labels[:n] == window[1:]
            seen.append(u)
    assert sorted(seen) == [0, 1, 3] and data.positions == 3 + 1 + 4  # user 2 has one item: nothing to predict


@pytest.mark.parametrize("model", [SASRec(12, dim=8, blocks=2, heads=2, max_len=6, dropout=0.0), GRU4Rec(12, dim=8)])
def test_causal_and_padding_invariant(model):
    model.eval()
    seq = torch.tensor([[3, 1, 4, 1, 5]])
    out = model(seq)
    changed = model(torch.tensor([[3, 1, 4, 9, 2]]))
    assert torch.allclose(out[0, :3], changed[0, :3], atol=1e-6)  # a later item never changes an earlier state
    padded = model(torch.tensor([[3, 1, 4, 1, 5, 12]]))  # 12 = padding (n_items)
    assert torch.allclose(out[0], padded[0, :5], atol=1e-6)


def test_last_inputs_take_the_last_items():
    h = UserHistories.from_lists([[1, 2, 3, 4, 5], [6]], 9)
    inputs, last = last_inputs(h, np.array([0, 1]), max_len=3)
    assert inputs.tolist() == [[3, 4, 5], [6, 9, 9]] and last.tolist() == [2, 0]


def reference_inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(2, 4, 5, generator=g, dtype=torch.float64)
    labels = torch.tensor([[1, 2, 3, -1], [4, 0, -1, -1]])
    items = torch.randn(8, 5, generator=g, dtype=torch.float64)
    known = UserHistories.from_lists([[0, 1, 2, 3], [4, 0]], 8).interactions()
    return hidden, labels, items, known


def test_full_cross_entropy_skips_padding():
    hidden, labels, items, known = reference_inputs()
    objective = SeqObjective("ce", None, known, temperature=0.5)
    valid = labels >= 0
    expected = F.cross_entropy(hidden[valid] @ items.T / 0.5, labels[valid])
    assert objective(hidden, labels, torch.tensor([0, 1]), items).item() == pytest.approx(expected.item(), rel=1e-9)


def test_per_position_bce_with_known_items_masked():
    hidden, labels, items, known = reference_inputs()
    objective = SeqObjective("bce", parse_sampler("uniform:3"), known, seed=4)
    value = objective(hidden, labels, torch.tensor([0, 1]), items)
    # replay the sampler's draws: the same generator, the positions' users in row order
    replay = SeqObjective("bce", parse_sampler("uniform:3"), known, seed=4)
    valid = labels >= 0
    users = np.array([0, 0, 0, 1, 1])
    neg, ok = replay.driver.sample(users, labels[valid].numpy())
    assert not known.contains(np.repeat(users, 3).reshape(5, 3), neg)[ok].any()  # no known item is a usable negative
    h = hidden[valid]
    expected = bce_loss((h * items[labels[valid]]).sum(-1), torch.einsum("nd,nkd->nk", h, items[neg]), torch.from_numpy(ok))
    assert value.item() == pytest.approx(expected.item(), rel=1e-9)


def test_per_sequence_sampled_softmax_equals_the_expanded_reference():
    hidden, labels, items, known = reference_inputs()
    objective = SeqObjective("softmax", parse_sampler("uniform:4"), known, share="sequence", seed=2)
    value = objective(hidden, labels, torch.tensor([0, 1]), items)
    replay = SeqObjective("softmax", parse_sampler("uniform:4"), known, share="sequence", seed=2)
    neg, ok = replay.driver.sample(np.array([0, 1]), np.zeros(2, dtype=np.int64))
    valid = labels >= 0
    rows = torch.tensor([0, 0, 0, 1, 1])
    h = hidden[valid]
    scores = torch.einsum("nd,nkd->nk", h, items[torch.from_numpy(neg)][rows])
    expected = softmax_loss((h * items[labels[valid]]).sum(-1), scores, torch.from_numpy(ok)[rows])
    assert value.item() == pytest.approx(expected.item(), rel=1e-9)


def test_inbatch_masks_accidental_hits_and_keeps_the_target():
    hidden, labels, items, known = reference_inputs()
    value = SeqObjective("softmax", parse_sampler("inbatch"), known)(hidden, labels, torch.tensor([0, 1]), items)
    valid = labels >= 0
    h, target = hidden[valid], labels[valid]
    distinct = torch.unique(target)  # [0, 1, 2, 3, 4]
    users = [0, 0, 0, 1, 1]
    total = 0.0
    for n in range(len(target)):
        owned = set(UserHistories.from_lists([[0, 1, 2, 3], [4, 0]], 8).sequence(users[n]).tolist())
        kept = [int(c) for c in distinct if int(c) == int(target[n]) or int(c) not in owned]
        logits = torch.stack([h[n] @ items[c] for c in kept])
        total += (torch.logsumexp(logits, 0) - h[n] @ items[target[n]]).item()
    assert value.item() == pytest.approx(total / len(target), rel=1e-9)


def test_gbce_uses_beta_from_t():
    hidden, labels, items, known = reference_inputs()
    objective = SeqObjective("gbce", parse_sampler("uniform:2"), known, gbce_t=0.5)
    assert objective.beta == pytest.approx(gbce_beta(2, 8, 0.5)) == pytest.approx(0.5 * 2 / 7 + 0.5)


def test_blockwise_losses_equal_their_references():
    g = torch.Generator().manual_seed(1)
    h = torch.randn(1300, 6, generator=g, dtype=torch.float64, requires_grad=True)
    items = torch.randn(40, 6, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 40, (1300,), generator=g)
    a = full_softmax_loss(h, items, target, 0.7)
    (ga_h, ga_i) = torch.autograd.grad(a, (h, items))
    b = F.cross_entropy(h @ items.T / 0.7, target)
    (gb_h, gb_i) = torch.autograd.grad(b, (h, items))
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    assert torch.allclose(ga_h, gb_h, atol=1e-12) and torch.allclose(ga_i, gb_i, atol=1e-12)
    cand = torch.randn(3, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    ok = torch.rand(3, 5, generator=g) > 0.3
    offsets, rows = [0, 700, 700, 1300], torch.repeat_interleave(torch.arange(3), torch.tensor([700, 0, 600]))
    pos = items[target]
    shift = torch.randn(3, 5, generator=g, dtype=torch.float64)
    c = grouped_softmax_loss(h, pos, cand, ok, offsets, temperature=0.5, cand_shift=shift)
    d = softmax_loss((h * pos).sum(-1), torch.einsum("nd,nkd->nk", h, cand[rows]), ok[rows], 0.5, torch.zeros(1300), shift[rows])
    assert c.item() == pytest.approx(d.item(), rel=1e-12)
    for x, y in zip(torch.autograd.grad(c, (h, cand)), torch.autograd.grad(d, (h, cand))):
        assert torch.allclose(x, y, atol=1e-12)


def test_grouped_softmax_over_ids_equals_it_over_gathered_rows():
    """The table form (candidate ids, each group's rows gathered when it is scored, gradients added into the table)
    gives the loss and gradients of the gathered form — ids repeated within and across groups, masks and logQ shifts,
    a group without rows — and bad arguments are refused by name."""
    g = torch.Generator().manual_seed(2)
    h = torch.randn(90, 4, generator=g, dtype=torch.float64, requires_grad=True)
    table = torch.randn(7, 4, generator=g, dtype=torch.float64, requires_grad=True)
    ids = torch.randint(0, 7, (3, 9), generator=g)
    ok = torch.rand(3, 9, generator=g) > 0.3
    target, offsets = torch.randint(0, 7, (90,), generator=g), [0, 50, 50, 90]
    shifts = {"pos_shift": torch.randn(90, generator=g, dtype=torch.float64), "cand_shift": torch.randn(3, 9, generator=g)}
    a = grouped_softmax_loss(h, table[target], ids, ok, offsets, temperature=0.8, table=table, **shifts)
    b = grouped_softmax_loss(h, table[target], table[ids], ok, offsets, temperature=0.8, **shifts)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    for x, y in zip(torch.autograd.grad(a, (h, table)), torch.autograd.grad(b, (h, table))):
        assert torch.allclose(x, y, atol=1e-12)
    # one set shared by every group (each with its own usable entries): as if every group had a copy of it
    c = grouped_softmax_loss(h, table[target], table[ids[0]], ok, offsets, temperature=0.8, **shifts)
    d = grouped_softmax_loss(h, table[target], table[ids[0]].expand(3, -1, -1), ok, offsets, temperature=0.8, **shifts)
    assert c.item() == pytest.approx(d.item(), rel=1e-12)
    for x, y in zip(torch.autograd.grad(c, (h, table)), torch.autograd.grad(d, (h, table))):
        assert torch.allclose(x, y, atol=1e-12)
    with pytest.raises(ValueError, match=r"cand: \(G, K\) ids into table"):
        grouped_softmax_loss(h, table[target], ids[:2], ok, offsets, table=table)
    with pytest.raises(ValueError, match="cand: item ids"):
        grouped_softmax_loss(h, table[target], ids.double(), ok, offsets, table=table)
    with pytest.raises(ValueError, match=r"cand: item ids in \[0, 7\)"):
        grouped_softmax_loss(h, table[target], ids + 7, ok, offsets, table=table)
    with pytest.raises(TypeError, match="torch tensors"):
        grouped_softmax_loss(h, table[target], ids.tolist(), ok, offsets, table=table)
    with pytest.raises(ValueError, match="offsets: non-decreasing from 0 to the 90 rows"):
        grouped_softmax_loss(h, table[target], ids, ok, [0, 50, 40, 90], table=table)


@pytest.mark.parametrize(
    "loss, spec, share, message",
    [
        ("ce", "uniform", "position", "--loss ce scores every item"),
        ("bce", None, "position", "--loss bce needs negatives"),
        ("softmax", "dns:10", "sequence", "'dns:10' picks per position by the model's scores"),
        ("softmax", "inbatch", "batch", "'inbatch' shares the batch's targets already"),
        ("gbce", "mns:10", "position", "calibrates k sampled negatives"),
        ("bce", "mixgcf", "position", "needs --model lightgcn, not sasrec"),
        ("bce", "popularity:1:3+logq", "position", r"\+logq corrects softmax logits"),
        ("hinge", "uniform", "position", "--loss must be one of"),
    ],
)
def test_pairings_that_make_no_sense_are_refused(loss, spec, share, message):
    with pytest.raises(ValueError, match=message):
        check_objective(loss, None if spec is None else parse_sampler(spec), share, "sasrec")


def small_split():
    rng = np.random.default_rng(0)
    sequences = [list(rng.integers(0, 30, size=rng.integers(5, 15))) for _ in range(40)]
    return leave_one_out(UserHistories.from_lists(sequences, 30))


def test_a_run_repeats_bitwise_at_a_fixed_thread_count():
    config = SeqConfig(dim=8, max_len=10, epochs=3, batch_size=8, loss="softmax", share="sequence")
    runs = [train_seq(small_split(), parse_sampler("uniform:5"), config) for _ in range(2)]
    for a, b in zip(runs[0].model.state_dict().values(), runs[1].model.state_dict().values()):
        assert torch.equal(a, b)
    assert [r["loss"] for r in runs[0].history] == [r["loss"] for r in runs[1].history]
    assert runs[0].best_epoch >= 0 and "NDCG@10" in runs[0].history[0]


def test_settings_refused_by_name():
    with pytest.raises(ValueError, match="--dim 10 must divide by --heads 3"):
        SeqConfig(dim=10, heads=3)
    with pytest.raises(ValueError, match="--gbce-t must be in"):
        SeqConfig(gbce_t=2.0)
    with pytest.raises(ValueError, match="--model must be one of sasrec, gru4rec"):
        SeqConfig(model="bert")


def test_record_sequences_and_their_validation_split():
    from negrec.data.sequences import Sequences
    from negrec.experiments.seq_baselines import records_split

    record_histories = UserHistories.from_records

    records = Sequences.from_lists([[1, -1, 2], [3, 4], [5]], [6, -1, 7])  # −1: a title outside the catalog
    histories = record_histories(records, 8)
    assert [histories.sequence(u).tolist() for u in range(3)] == [[1, 2, 6], [3, 4], [5, 7]]
    many = record_histories(Sequences.from_lists([[i, i + 1] for i in range(20)], list(range(20, 40))), 40)
    split = records_split(many, seed=3)
    held = np.flatnonzero(split.valid >= 0)
    assert len(held) == 2  # 10 % of 20 records
    for u in range(20):
        full = many.sequence(u).tolist()
        assert split.train.sequence(u).tolist() == (full[:-1] if u in held else full)
        assert split.valid[u] == (full[-1] if u in held else -1)
    assert (split.test == -1).all()


@torch.no_grad()
def test_initialisation_follows_the_reference():
    import math

    model = SASRec(50, dim=64, blocks=2, generator=torch.Generator().manual_seed(0))
    bound = math.sqrt(6 / (64 + 3 * 64))  # nn.MultiheadAttention's Xavier over its (3d × d) input projection
    for block in model.blocks:
        for layer in (block.query, block.key_value):
            assert layer.weight.abs().max() <= bound
            assert float(layer.weight.std()) == pytest.approx(bound / math.sqrt(3), rel=0.05)
            assert (layer.bias == 0).all()
        assert block.out.weight.std() == pytest.approx(0.02, rel=0.05) and block.ffn[0].weight.std() == pytest.approx(
            0.02, rel=0.05
        )
    assert (model.item.weight[50] == 0).all() and model.item.weight[:50].std() == pytest.approx(0.02, rel=0.1)


def test_bucketed_batches_weigh_every_position_the_same():
    """Length buckets put many short or few long sequences in a batch; weighting each batch's mean loss by its
    positions over the average batch's gives an epoch the objective of batches drawn at random: every position once,
    with the same weight."""
    rng = np.random.default_rng(1)
    sequences = [list(rng.integers(0, 20, size=n)) for n in rng.integers(3, 60, size=50)]
    data = TrainingSequences(UserHistories.from_lists(sequences, 20), max_len=30)
    per_position = {}
    for batch in data.batches(8, np.random.default_rng(0)):
        weight = batch.positions / data.mean_positions(8)
        for u, labels in zip(batch.users.tolist(), batch.labels.tolist()):
            real = [x for x in labels if x >= 0]
            per_position[u] = weight / batch.positions  # each of the batch's positions gets weight / positions
            assert len(real) == min(len(sequences[u]), 31) - 1
    assert len(set(round(w, 12) for w in per_position.values())) == 1  # the same for every user's positions
