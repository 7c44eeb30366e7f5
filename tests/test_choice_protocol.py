"""The candidate-choice protocol (LLaRA / S-DPO): candidate draws, the constrained answer, HR@1 and ValidRatio."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from negrec.eval.choice import choice_evaluation, choose, draw_candidates


def _history(lists: list[list[int]], n_items: int) -> sp.csr_matrix:
    rows = [r for r, items in enumerate(lists) for _ in items]
    cols = [i for items in lists for i in items]
    return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(lists), n_items))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_each_row_holds_its_target_and_distinct_items_outside_its_history(data):
    n_items = data.draw(st.integers(25, 60))
    n_rows = data.draw(st.integers(1, 8))
    lists = [data.draw(st.lists(st.integers(0, n_items - 1), max_size=5, unique=True)) for _ in range(n_rows)]
    targets = np.array([data.draw(st.integers(-1, n_items - 1)) for _ in range(n_rows)], dtype=np.int64)
    n = data.draw(st.integers(2, 20))
    seed = data.draw(st.integers(0, 5))
    cands = draw_candidates(targets, _history(lists, n_items), n_items, n, seed=seed)
    assert cands.shape == (n_rows, n)
    for row, target in enumerate(targets.tolist()):
        if target < 0:
            assert (cands[row] == -1).all()
            continue
        assert len(set(cands[row].tolist())) == n and (cands[row] == target).sum() == 1
        others = set(cands[row].tolist()) - {target}
        assert not others & set(lists[row]) and all(0 <= i < n_items for i in others)
    # a fixed seed draws the same candidates every time: every system answers the same question
    assert (draw_candidates(targets, _history(lists, n_items), n_items, n, seed=seed) == cands).all()


def test_the_draw_is_uniform_and_the_target_lands_anywhere():
    n_items, rows = 30, 3000
    targets = np.zeros(rows, dtype=np.int64)
    cands = draw_candidates(targets, _history([[1, 2]] * rows, n_items), n_items, 5, seed=1)
    counts = np.bincount(cands[:, :].ravel(), minlength=n_items)
    assert counts[0] == rows and counts[1] == counts[2] == 0
    expected = rows * 4 / 27  # 27 items outside the history and the target share the 4 other slots
    assert np.abs(counts[3:] - expected).max() < 5 * np.sqrt(expected)
    slots = np.bincount(np.argmax(cands == 0, axis=1), minlength=5)
    assert np.abs(slots - rows / 5).max() < 5 * np.sqrt(rows / 5)


def test_too_few_items_and_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="row 0: only 2 items"):
        draw_candidates(np.array([0]), _history([[1]], 4), 4, 4)
    with pytest.raises(ValueError, match="n: at least 2"):
        draw_candidates(np.array([0]), _history([[1]], 4), 4, 1)
    with pytest.raises(ValueError, match="targets: item ids in 0..3"):
        draw_candidates(np.array([7]), _history([[1]], 4), 4, 2)
    with pytest.raises(TypeError, match="targets"):
        draw_candidates(np.array([0.5]), _history([[1]], 4), 4, 2)
    with pytest.raises(ValueError, match="history"):
        draw_candidates(np.array([0]), _history([[1]], 5), 4, 2)


def test_the_answer_is_the_top_scored_candidate_first_on_ties_and_none_without_scores():
    cands = np.array([[4, 7, 9], [4, 7, 9], [4, 7, 9], [-1, -1, -1]])
    scores = np.array([[0.1, 0.5, 0.2], [1.0, 1.0, 0.0], [-np.inf, np.nan, -np.inf], [1.0, 2.0, 3.0]])
    assert choose(scores, cands).tolist() == [7, 4, -1, -1]
    with pytest.raises(ValueError, match="one score per candidate"):
        choose(scores[:, :2], cands)


def test_hr_at_1_and_valid_ratio_by_hand():
    cands = np.array([[1, 2, 3], [4, 5, 6], [1, 5, 9], [2, 3, 4]])
    answers = np.array([2, 6, -1, 3])
    targets = np.array([2, 5, 9, -1])  # the last row's target is unknown: not scored
    ev = choice_evaluation(answers, cands, targets)
    assert ev.summary() == {"HR@1": pytest.approx(1 / 3), "ValidRatio": pytest.approx(2 / 3)}
    assert np.array_equal(ev.per_user()["HR@1"], [1.0, 0.0, 0.0, np.nan], equal_nan=True)
    assert ev.n_valid == 3
    # an answer outside the row's candidates is not valid and not a hit, even when it is the target
    assert choice_evaluation(np.array([9]), np.array([[1, 2, 3]]), np.array([9])).summary() == {"HR@1": 0.0, "ValidRatio": 0.0}
    with pytest.raises(ValueError, match="no row has a known target"):
        choice_evaluation(np.array([1]), np.array([[1, 2]]), np.array([-1]))


def test_lists_are_read_as_arrays_and_a_bad_candidate_table_is_named():
    assert choose([[1.0, 2.0]], [[3, 4]]).tolist() == [4]
    with pytest.raises(TypeError, match="candidates: a 2-D array of integer item ids"):
        choose([[1.0, 2.0]], [[3.5, 4.0]])
