"""`run` evaluates out of fold, beside the baselines, and never on a split without held-out deposits."""


import numpy as np
import pytest
from conftest import deposit_area

from geoprospect.errors import FoldError, GridError
from geoprospect.evaluation.metrics import window_metrics
from geoprospect.evaluation.oof import evaluate_out_of_fold, make_splits
from geoprospect.training.config import TrainConfig


def _corner_area(n_dep: int = 12, spread: bool = False):
    """A 64 x 64-cell area whose 12 deposits all sit in the north-west corner (or spread over it)."""
    return deposit_area(n_dep, spread=spread)


def test_corner_deposits_the_single_block_is_refused_with_the_fix_named():
    stack, windows, deps = _corner_area()
    with pytest.raises(FoldError) as e:
        make_splits(stack, windows, deps, method="block", folds=5, block_size=None, buffer=None, layouts=1, seed=0)
    assert "evaluation.method" in e.value.hint


def test_corner_deposits_cv_holds_deposits_out_in_every_fold_or_refuses():
    stack, windows, deps = _corner_area()
    # large blocks: the corner is one block, so some fold holds no deposit -> refused, fix named
    with pytest.raises(FoldError) as e:
        make_splits(stack, windows, deps, method="cv", folds=5, block_size=24, buffer=None, layouts=1, seed=0)
    assert "evaluation.block_size" in e.value.hint and "evaluation.folds" in e.value.hint
    # small blocks: deposit-stratified folds, every fold holds deposits and positive test windows
    for layouts in (1, 2):
        splits = make_splits(stack, windows, deps, method="cv", folds=3, block_size=6, buffer=None, layouts=layouts, seed=0)
        assert len(splits) == layouts
        for s in splits:
            assert all(f.deposits > 0 and f.positives > 0 for f in s.folds)
            assert sum(f.deposits for f in s.folds) == 12


def test_out_of_fold_table_has_the_model_and_the_three_baselines_computed():
    stack, windows, deps = _corner_area(spread=True)
    splits = make_splits(stack, windows, deps, method="cv", folds=3, block_size=16, buffer=None, layouts=2, seed=0)
    res = evaluate_out_of_fold(stack, windows, deps, splits, model="logistic", train_cfg=TrainConfig(model="logistic", device="cpu"))
    table, fmap, wprob = res.table, res.model_map, res.model_prob
    assert [k for k, _ in res.fold_models] == [f.k for f in splits[0].folds if f.test.size]
    assert list(table) == ["logistic", "best_layer", "weights_of_evidence", "fuzzy", "logistic_cell", "random_forest_cell"]
    assert [r["role"] for r in table.values()] == ["model"] + ["baseline"] * 5
    for r in table.values():
        for k in ("success_rate_auc", "capture_top_5pct", "capture_top_10pct", "capture_top_20pct", "roc_auc"):
            assert 0 <= r[k] <= 1, k
        assert len(r["per_fold"]) == 6 and r["success_rate_auc_spread"]["min"] <= r["success_rate_auc"] <= r["success_rate_auc_spread"]["max"]
    # the best layer is the distance to the deposits' corner, lower = better, chosen on every fold
    assert all(c["band"] == "dist" and c["better"] == "lower" for c in table["best_layer"]["chosen"])
    assert table["best_layer"]["success_rate_auc"] > 0.9
    # every window scored out of fold; the map's ranked cells are the ones the folds scored
    assert np.isfinite(wprob).all() and np.isfinite(fmap.margin).any()
    sp = table["logistic"]["roc_auc_spread"]
    assert sp["min"] - 1e-9 <= window_metrics(windows["label"].to_numpy(), wprob, ranking=res.model_ranking)["roc_auc"] <= sp["max"] + 1e-9


def test_permutation_importance_starts_from_the_tables_pooled_ranking():
    """Unpermuted, the importance's map is the table's: the same fold models, their test margins
    z-scored with the same per-fold scales, the same cells ranked."""
    from geoprospect.evaluation.importance import permutation_importance
    from geoprospect.evaluation.metrics import deposit_flat

    stack, windows, deps = _corner_area(spread=True)
    splits = make_splits(stack, windows, deps, method="cv", folds=3, block_size=16, buffer=None, layouts=1, seed=0)
    res = evaluate_out_of_fold(stack, windows, deps, splits, model="logistic_cell", train_cfg=TrainConfig(model="logistic_cell", device="cpu"), baselines=())
    assert sorted(res.model_scales) == sorted(k for k, _ in res.fold_models) and all(sd > 0 for _, sd in res.model_scales.values())
    groups = {n: [i] for i, n in enumerate(stack.band_names)}
    imp = permutation_importance(stack, windows, deposit_flat(stack.grid, deps), splits[0], res.fold_models, groups, area=np.isfinite(res.model_map.margin), repeats=1, device="cpu",
                                 scales=res.model_scales)
    assert imp["base_success_rate_auc"] == pytest.approx(res.table["logistic_cell"]["success_rate_auc"], abs=1e-12)


def test_each_baseline_row_carries_its_paired_difference_from_the_model_and_the_verdict_says_it():
    """versus_model: AUC(model) - AUC(baseline) on the same deposits (the table's difference, to
    rounding), with a block-bootstrap interval around it; the skill sentence says where each baseline stands."""
    from geoprospect.evaluation.metrics import deposit_flat
    from geoprospect.evaluation.oof import skill_verdict

    stack, windows, deps = _corner_area(n_dep=30, spread=True)
    splits = make_splits(stack, windows, deps, method="cv", folds=3, block_size=16, buffer=None, layouts=2, seed=0)
    res = evaluate_out_of_fold(stack, windows, deps, splits, model="logistic_cell", train_cfg=TrainConfig(model="logistic_cell", device="cpu"),
                               baselines=("best_layer", "fuzzy"))
    t = res.table
    assert "versus_model" not in t["logistic_cell"]
    for name in ("best_layer", "fuzzy"):
        v = t[name]["versus_model"]
        assert v["difference"] == pytest.approx(t["logistic_cell"]["success_rate_auc"] - t[name]["success_rate_auc"], abs=1e-12)
        assert v["low"] <= v["difference"] <= v["high"] and v["clusters_are"] == "blocks holding deposits"
        rows, cols = np.divmod(deposit_flat(stack.grid, deps), stack.grid.shape[1])
        assert v["clusters"] == np.unique(splits[0].block_of_pixel(rows, cols)).size
    verdict = skill_verdict(t, "logistic_cell")["versus_baselines"]
    for name in ("best_layer", "fuzzy"):  # each row in the group its interval puts it in, and named in the sentence
        v = t[name]["versus_model"]
        group = "ahead_of" if v["low"] > 0 else "behind" if v["high"] < 0 else "not_distinguishable_from"
        assert name in verdict[group] and f" {name} " in verdict["sentence"]
    assert sorted(verdict["ahead_of"] + verdict["behind"] + verdict["not_distinguishable_from"]) == ["best_layer", "fuzzy"]


def test_f1_macro_equals_the_per_class_macro_f1():
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.2).astype(int)
    p = np.clip(y * 0.4 + rng.random(200) * 0.6, 0, 1)
    m = window_metrics(y, p)
    assert m["f1_macro"] == pytest.approx(m["per_class"]["macro"]["f1"])
    assert m["f1_macro"] == pytest.approx((m["per_class"]["background"]["f1"] + m["per_class"]["deposit"]["f1"]) / 2)
    assert 0 < m["f1_macro"] < 1


def test_run_on_corner_deposits_evaluates_out_of_fold(tmp_path):
    """A fresh area with 12 deposits in one corner: `run` trains only on folds with held-out
    deposits: it refuses before any training, the fix named."""
    import yaml

    from geoprospect.pipeline.config import load_config
    from geoprospect.pipeline.run import run_pipeline
    from tests.conftest import make_deposits_gpkg
    from tests.faults_helpers import tiny_config

    p = tiny_config(tmp_path / "in", epochs=1)
    # 12 deposits in the north-west corner (the default south test block holds none)
    make_deposits_gpkg(tmp_path / "in" / "dep.gpkg", [[500250 + 450 * i, 2804750 - 450 * j] for i in range(4) for j in range(3)])
    raw = yaml.safe_load(p.read_text())
    raw["train"]["model"] = "logistic_cell"
    raw["evaluation"] = {"folds": 3, "block_size": 2500}  # 25-cell blocks: the corner is one block
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(FoldError) as e:  # refused before any training, fix named
        run_pipeline(load_config(p), tmp_path / "refused")
    assert "evaluation.block_size" in e.value.hint
    assert not (tmp_path / "refused" / "model").exists()
    for ev in ({"folds": 3, "block_size": 1000, "buffer": 100}, {}):  # smaller blocks, and the defaults
        raw["evaluation"] = ev
        p.write_text(yaml.safe_dump(raw))
        with pytest.raises((FoldError, GridError)) as e:  # a fold without deposits (or too few blocks): refused
            run_pipeline(load_config(p), tmp_path / f"out{len(ev)}")
        assert "evaluation.block_size" in e.value.hint or "evaluation.folds" in e.value.hint
        assert not (tmp_path / f"out{len(ev)}" / "model").exists()


def test_windows_with_a_nodata_centre_do_not_break_the_per_fold_figures():
    """The best layer scores a window by its centre cell: a nodata centre gives no score, and the
    per-fold window ROC AUC is computed over the scored windows (the Murchison study area has such windows)."""
    stack, windows, deps = _corner_area(spread=True)
    size = int(windows["size"].iloc[0])
    r0, c0 = int(windows["row_off"].iloc[-1]) + size // 2, int(windows["col_off"].iloc[-1]) + size // 2
    stack.data[:, r0, c0] = np.nan  # the last window's centre cell (its other cells keep it valid)
    splits = make_splits(stack, windows, deps, method="cv", folds=3, block_size=16, buffer=None, layouts=1, seed=0)
    res = evaluate_out_of_fold(stack, windows, deps, splits, model="logistic_cell", train_cfg=TrainConfig(model="logistic_cell", device="cpu"), baselines=("best_layer",))
    assert all(f["roc_auc"] is None or 0 <= f["roc_auc"] <= 1 for f in res.table["best_layer"]["per_fold"])


def test_the_chance_band_counts_the_blocks_holding_deposits_not_the_deposits():
    from geoprospect.evaluation.oof import deposit_blocks, skill_verdict
    from geoprospect.windows.cells import make_cells

    stack, _, deps = _corner_area(spread=True)
    cells, _ = make_cells(stack.valid, stack.grid, deps, size=1)
    splits = make_splits(stack, cells, deps, method="cv", folds=3, block_size=16, buffer=0, layouts=2, seed=0)
    t = stack.grid.transform
    rc = np.column_stack([((deps[:, 1] - t.f) / t.e).astype(int), ((deps[:, 0] - t.c) / t.a).astype(int)])
    want = min(np.unique((rc + shift) // 16, axis=0).shape[0] for shift in (0, 8))  # layouts shifted by 0 and 1/2 block
    assert deposit_blocks(splits, cells["label"].to_numpy()) == want < len(deps)
    # 30 deposits in 22 blocks: the band is 2 sqrt(1 / (12 * 22)) = 0.123, not 2 sqrt(1 / (12 * 30)) = 0.105
    row = {"role": "model", "success_rate_auc": 0.615, "n_deposits": 30, "deposit_blocks": 22}
    v = skill_verdict({"m": row, "b": {"role": "baseline", "success_rate_auc": 0.5}}, "m")
    assert v["units"] == 22 and v["chance_band"] == pytest.approx(2 * np.sqrt(1 / 264)) and not v["any_beats_chance"]
    assert "30 deposits in 22 blocks" in v["sentence"] and v["sentence"].startswith("NO SKILL")
    # without blocks (a single test block) the deposits are the units, and 0.615 clears 0.5 + 0.105
    v = skill_verdict({"m": {**row, "deposit_blocks": None}}, "m")
    assert v["units"] == 30 and v["model_beats_chance"] and v["sentence"].startswith("Skill")
