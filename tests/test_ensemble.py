"""Ensemble rules (paper 003), Table 2 statistics, the uncertainty layer; checked against hand-computed cases."""

import numpy as np
import pytest

from geoprospect.ensemble import REFUSE, combine, majority_vote, ore_statistics, plurality_vote, simple_average, spread, weighted_average, weighted_vote, weights_from_scores
from geoprospect.ensemble.stats import table2_markdown
from geoprospect.errors import ModelError

P = np.array(
    [
        [0.9, 0.2, 0.6, 0.4, np.nan],
        [0.8, 0.3, 0.4, 0.6, np.nan],
        [0.7, 0.6, 0.45, 0.1, np.nan],
        [0.1, 0.1, 0.7, 0.55, np.nan],
    ]
)


def test_averages_and_spread():
    avg = simple_average(P)
    assert np.allclose(avg[:4], np.mean(P[:, :4], axis=0))
    assert np.isnan(avg[4])
    w = [0.4, 0.3, 0.2, 0.1]
    assert np.allclose(weighted_average(P, w)[:4], np.average(P[:, :4], axis=0, weights=w))
    assert np.allclose(spread(P)[:4], np.std(P[:, :4], axis=0))
    # a member missing at one cell: weights renormalised over those present
    Q = P.copy()
    Q[0, 0] = np.nan
    assert weighted_average(Q, w)[0] == pytest.approx(np.average(P[1:, 0], weights=w[1:]))


def test_votes():
    # votes (p >= 0.5): col0 3 yes 1 no; col1 1 yes 3 no; col2 2 yes 2 no; col3 2 yes 2 no
    assert majority_vote(P).tolist() == [1, 0, REFUSE, REFUSE, REFUSE]
    # plurality: ties go to the side of the mean probability (col2 mean 0.5375 -> 1, col3 mean 0.4125 -> 0)
    assert plurality_vote(P).tolist() == [1, 0, 1, 0, REFUSE]
    # weighted: col2 yes weight 0.4+0.1, no 0.3+0.2 -> tie -> ore; col3 yes 0.3+0.1 < no 0.4+0.2
    assert weighted_vote(P, [0.4, 0.3, 0.2, 0.1]).tolist() == [1, 0, 1, 0, REFUSE]
    assert weighted_vote(P, [0.1, 0.1, 0.1, 1.0]).tolist()[:4] == [0, 0, 1, 1]


def test_combine_and_weights():
    assert np.allclose(combine(P, "simple_average")[:4], simple_average(P)[:4])
    with pytest.raises(ModelError, match="needs weights"):
        combine(P, "weighted_average")
    with pytest.raises(ModelError, match="unknown ensemble rule"):
        combine(P, "stacking")
    with pytest.raises(ModelError, match="weights"):
        weighted_average(P, [1, 2])
    w = weights_from_scores([0.9, 0.7, 0.5, 0.4])
    assert np.allclose(w, [2 / 3, 1 / 3, 0, 0])
    assert np.allclose(weights_from_scores([0.5, 0.3]), [0.5, 0.5])


def test_table2_statistics():
    truth = np.array([1, 1, 0, -1, 0])
    models = {"a": np.array([0.9, 0.2, 0.6, 0.7, 0.1]), "b": np.array([0.8, 0.9, 0.1, 0.2, 0.1]), "c": np.array([1, 1, 1, 1, 0])}
    ens = {"maj": np.array([1, 1, REFUSE, REFUSE, 0])}
    s = ore_statistics(models, ens, truth)
    assert s["models"]["a"] == {"predicted_ore": 3, "known_ore_predicted_ore": 1, "unknown_predicted_ore": 1, "non_ore_predicted_ore": 1}
    assert s["models"]["c"]["predicted_ore"] == 4
    assert s["ensembles"]["maj"] == {"predicted_ore": 2, "known_ore_predicted_ore": 2, "unknown_predicted_ore": 0, "non_ore_predicted_ore": 0}
    counts = np.array([3, 2, 4], dtype=float)
    assert s["models_spread"]["std"]["predicted_ore"] == pytest.approx(counts.std())
    assert s["models_spread"]["cv"]["predicted_ore"] == pytest.approx(counts.std() / counts.mean())
    md = table2_markdown(s)
    assert "coefficient of variation" in md and "| models | a | 3 | 1 | 1 | 1 |" in md


def test_fold_weighted_rank_average_uses_other_folds_only():
    from geoprospect.ensemble.rank import fold_weighted_rank_average, percentile_ranks

    rng = np.random.default_rng(0)
    H = W = 20
    area = np.ones((H, W), bool)
    cell_fold = np.repeat(np.arange(2), H * W // 2).reshape(H, W)  # top half fold 0, bottom fold 1
    good = rng.uniform(size=(H, W))
    dep = np.argsort(good.ravel())[-20:]  # deposits where "good" is highest, in both folds
    noise = rng.uniform(size=(H, W))
    combo, w = fold_weighted_rank_average([good, noise], cell_fold, dep, area)
    assert set(w) == {0, 1}
    assert w[0][0] > 0.8 and w[1][0] > 0.8  # the informative member dominates
    r = percentile_ranks(good, area)
    assert np.allclose(combo[cell_fold == 0], w[0][0] * r[cell_fold == 0] + w[0][1] * percentile_ranks(noise, area)[cell_fold == 0])
    # weights for fold 0 do not depend on fold 0's deposits
    dep_other = dep[cell_fold.ravel()[dep] == 1]
    _, w2 = fold_weighted_rank_average([good, noise], cell_fold, np.concatenate([dep_other, np.array([0, 1, 2])]), area)
    assert np.allclose(w2[0], fold_weighted_rank_average([good, noise], cell_fold, dep_other, area)[1][0])


def test_fold_selection_never_picks_a_useless_member():
    from geoprospect.ensemble.rank import fold_selected_rank_average

    rng = np.random.default_rng(1)
    H = W = 20
    area = np.ones((H, W), bool)
    cell_fold = np.repeat(np.arange(2), H * W // 2).reshape(H, W)
    good = rng.uniform(size=(H, W))
    dep = np.argsort(good.ravel())[-20:]
    combo, w = fold_selected_rank_average([rng.uniform(size=(H, W)), good], cell_fold, dep, area, steps=5)
    assert np.allclose(w[0], [0, 1]) and np.allclose(w[1], [0, 1])
    assert np.array_equal(np.argsort(combo.ravel()), np.argsort(good.ravel()))
