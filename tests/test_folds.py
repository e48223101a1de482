"""Deposit-stratified spatial folds (issue 17): deposits in every fold, shifted layouts, refusals."""

import numpy as np
import pytest

from geoprospect.errors import FoldError
from geoprospect.windows.folds import make_folds, overlapping_pairs, spatial_block_folds, spatial_fold_layouts

H = W = 128
SIZE, STRIDE = 8, 4


def _offsets():
    r, c = np.meshgrid(np.arange(0, H - SIZE + 1, STRIDE), np.arange(0, W - SIZE + 1, STRIDE), indexing="ij")
    return r.ravel(), c.ravel()


def _labels(ro, co, dep_rc):
    """1 where a deposit pixel lies in the window (as tiling labels windows)."""
    r, c = dep_rc[:, 0][None, :], dep_rc[:, 1][None, :]
    inside = (r >= ro[:, None]) & (r < ro[:, None] + SIZE) & (c >= co[:, None]) & (c < co[:, None] + SIZE)
    return inside.any(axis=1).astype(np.int64)


def _corner_deposits(n=12, extent=44, seed=0):
    """``n`` deposits clustered in the north-west corner of the area (pixels)."""
    return np.random.default_rng(seed).integers(0, extent, size=(n, 2))


def test_stratified_folds_hold_deposits_in_every_fold():
    ro, co = _offsets()
    dep = _corner_deposits()
    y = _labels(ro, co, dep)
    shuffled_failed = 0
    for seed in range(8):
        s = spatial_block_folds(ro, co, SIZE, (H, W), k=5, block_size=16, seed=seed, labels=y, deposits_rc=dep)
        assert s.stratified
        d = s.describe()
        assert min(d["positives_per_fold"]) > 0 and min(d["deposits_per_fold"]) > 0
        assert sum(d["deposits_per_fold"]) == 12 and sum(d["positives_per_fold"]) == int(y.sum())
        assert max(d["deposits_per_fold"]) - min(d["deposits_per_fold"]) <= 2  # spread, not piled up
        n_test = d["windows_per_fold"]["test"]
        assert max(n_test) <= 1.25 * min(n_test)  # blocks without deposits balance the window counts
        for f in s.folds:
            assert f.positives == int(y[f.test].sum())
        try:  # the plain shuffle (still reachable) often leaves a fold without a deposit here
            spatial_block_folds(ro, co, SIZE, (H, W), k=5, block_size=16, seed=seed, labels=y, deposits_rc=dep, stratify=False)
        except FoldError:
            shuffled_failed += 1
    assert shuffled_failed > 0


def test_stratified_folds_are_seeded():
    ro, co = _offsets()
    dep = _corner_deposits()
    y = _labels(ro, co, dep)
    a, b, c = (spatial_block_folds(ro, co, SIZE, (H, W), k=5, block_size=16, seed=s, labels=y, deposits_rc=dep) for s in (1, 1, 2))
    assert np.array_equal(a.fold_of_block, b.fold_of_block)
    assert not np.array_equal(a.fold_of_block, c.fold_of_block)


def test_a_fold_without_deposits_is_refused_with_the_fix_named():
    ro, co = _offsets()
    dep = np.array([[2, 2], [3, 5], [6, 6]])  # every positive window is centred in the first 64-px block
    y = _labels(ro, co, dep)
    with pytest.raises(FoldError, match=r"fold 1 of 2 .*no positive window.*positive windows per fold \[\d+, 0\], deposits per fold \[3, 0\]") as e:
        make_folds(ro, co, SIZE, (H, W), k=2, block_size=64, labels=y, deposits_rc=dep)
    for fix in ("--block-size", "evaluation.block_size", "--folds", "evaluation.folds"):
        assert fix in e.value.hint
    with pytest.raises(FoldError, match="fold 1 of 2"):  # the same without deposit positions
        make_folds(ro, co, SIZE, (H, W), k=2, block_size=64, labels=y)
    # random folds count and refuse too
    with pytest.raises(FoldError, match="no positive window"):
        make_folds(ro, co, SIZE, (H, W), kind="random", k=5, labels=np.eye(1, ro.size, 0, dtype=np.int64).ravel())


def test_shifted_layouts_differ_and_keep_deposits_in_every_fold():
    ro, co = _offsets()
    dep = _corner_deposits(extent=60)
    y = _labels(ro, co, dep)
    splits = spatial_fold_layouts(ro, co, SIZE, (H, W), layouts=3, k=4, block_size=24, labels=y, deposits_rc=dep, seed=0)
    assert [s.offset for s in splits] == [0, 8, 16]
    assert [s.describe()["offset_px"] for s in splits] == [0, 8, 16]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not np.array_equal(splits[a].block_of_window, splits[b].block_of_window)
    for s in splits:
        d = s.describe()
        assert min(d["positives_per_fold"]) > 0 and min(d["deposits_per_fold"]) > 0 and sum(d["deposits_per_fold"]) == 12
        assert np.array_equal(np.sort(np.concatenate([f.test for f in s.folds])), np.arange(ro.size))
        for f in s.folds:
            # shifted blocks still keep training windows clear of the test windows and of the fold's blocks
            assert overlapping_pairs(ro[f.train], co[f.train], ro[f.test], co[f.test], SIZE, gap=s.buffer) == 0
            rr, cc = np.mgrid[0:H, 0:W]
            area = np.isin(s.block_of_pixel(rr, cc), f.blocks)
            assert not any(area[r : r + SIZE, c : c + SIZE].any() for r, c in zip(ro[f.train], co[f.train]))
            assert set(f.test.tolist()) == set(np.flatnonzero(np.isin(s.block_of_pixel(ro + SIZE // 2, co + SIZE // 2), f.blocks)).tolist())


def test_offset_zero_and_no_labels_keep_the_plain_shuffle():
    # without labels or deposits there is nothing to stratify on: blocks are dealt as before
    ro, co = _offsets()
    a = spatial_block_folds(ro, co, SIZE, (H, W), k=5, block_size=16, seed=3)
    b = spatial_block_folds(ro, co, SIZE, (H, W), k=5, block_size=16, seed=3, stratify=False, offset=0.0)
    assert not a.stratified and np.array_equal(a.fold_of_block, b.fold_of_block)
    used = np.unique(a.block_of_window)
    expected = np.full(a.fold_of_block.size, -1)
    expected[np.random.default_rng(3).permutation(used)] = np.arange(used.size) % 5
    assert np.array_equal(a.fold_of_block, expected)
    assert a.describe()["positives_per_fold"] is None and a.describe()["deposits_per_fold"] is None


def test_make_windows_refuses_a_test_block_without_deposits():
    from geoprospect.grid import GridSpec
    from geoprospect.windows.tiling import make_windows

    grid = GridSpec.from_bounds((500000.0, 2800000.0, 512800.0, 2812800.0), 100.0, "EPSG:32649")  # 128 x 128
    dep = _corner_deposits()
    t = grid.transform
    xy = np.column_stack([t.c + (dep[:, 1] + 0.5) * t.a, t.f + (dep[:, 0] + 0.5) * t.e])  # north-west corner
    valid = np.ones(grid.shape, bool)
    with pytest.raises(FoldError, match="south 30%.*no deposit") as e:
        make_windows(valid, grid, xy, size=16, stride=8)
    for fix in ("windows.test_side", "windows.split_axis", "windows.test_fraction", "--test-side"):
        assert fix in e.value.hint
    assert "test_side start (north" in e.value.hint and "test_side start (west" in e.value.hint
    win, summary = make_windows(valid, grid, xy, size=16, stride=8, test_side="start")
    assert summary.positives_by_split["test"] > 0
