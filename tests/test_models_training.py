"""Trainer features of issue 4: schedules/presets, auxiliary losses, repeatability, resume,
early stopping, curves (CPU; the CUDA paths are exercised where a GPU exists)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoprospect.errors import InputError, ModelError
from geoprospect.models import build_model
from geoprospect.training.accelerate import accelerate
from geoprospect.training.config import TrainConfig
from geoprospect.training.early_stopping import EarlyStopping
from geoprospect.training.fit import fit
from geoprospect.training.loop import holdout
from geoprospect.training.state import load_state
from geoprospect.windows.augment import WindowAugment
from geoprospect.windows.dataset import WindowDataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py


def _dataset(n=24, c=3, w=32, seed=0, transform=None) -> WindowDataset:
    """n windows side by side in one (C, w, n*w) array; positives carry a bright square."""
    rng = np.random.default_rng(seed)
    data = rng.normal(scale=0.3, size=(c, w, n * w)).astype(np.float32)
    labels = np.arange(n) % 2
    for i in np.flatnonzero(labels):
        r, k = rng.integers(0, w - 8, 2)
        data[0, r : r + 8, i * w + k : i * w + k + 8] += 2.0
    offsets = np.stack([np.zeros(n, int), np.arange(n) * w], 1)
    return WindowDataset(data, offsets, w, labels, transform=transform)


def _cfg(**kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=8, lr=3e-3, optimizer="adam", device="cpu", seed=0)
    base.update(kw)
    return TrainConfig(**base)


def train_model(model, ds, cfg, val_ds=None, **kw):
    """The history of ``fit`` on an already built model."""
    return fit(model, ds, cfg, val_ds=val_ds, **kw)[1]


def _weights(m):
    return torch.cat([p.detach().flatten() for p in m.state_dict().values() if p.is_floating_point()])


def test_cpu_training_is_repeatable():
    ds = _dataset(transform=WindowAugment(noise_variance=0.01))
    torch.manual_seed(0)
    a = build_model("lenet", 3, 2, 32)
    torch.manual_seed(0)
    b = build_model("lenet", 3, 2, 32)
    ha = train_model(a, ds, _cfg())
    hb = train_model(b, ds, _cfg())
    assert torch.equal(_weights(a), _weights(b))
    assert ha.rows == hb.rows


def test_resume_continues_exactly(tmp_path):
    ds = _dataset(transform=WindowAugment(noise_variance=0.01))
    torch.manual_seed(0)
    full = build_model("lenet", 3, 2, 32)
    h_full = train_model(full, ds, _cfg(epochs=4, scheduler="step", step_epochs=1, gamma=0.5))
    torch.manual_seed(0)
    part = build_model("lenet", 3, 2, 32)
    train_model(part, ds, _cfg(epochs=2, scheduler="step", step_epochs=1, gamma=0.5), out_dir=str(tmp_path))
    assert (tmp_path / "last.pt").exists() and (tmp_path / "curves.csv").exists()
    assert not (tmp_path / "curves.png").exists()  # figures are report/'s job (the train command draws it)
    resumed = build_model("lenet", 3, 2, 32)  # other initial weights: all come from last.pt
    h_res = train_model(resumed, ds, _cfg(epochs=4, scheduler="step", step_epochs=1, gamma=0.5), out_dir=str(tmp_path), resume=True)
    assert h_res.resumed_from == 3
    assert torch.equal(_weights(full), _weights(resumed))
    assert [r["loss"] for r in h_res.rows] == [r["loss"] for r in h_full.rows]
    assert [r["lr"] for r in h_res.rows] == pytest.approx([3e-3, 1.5e-3, 7.5e-4, 3.75e-4])
    csv = (tmp_path / "curves.csv").read_text().splitlines()
    assert csv[0].startswith("epoch,loss,accuracy,lr") and len(csv) == 5


def test_resume_errors(tmp_path):
    with pytest.raises(InputError, match="no training state"):
        load_state(tmp_path)
    (tmp_path / "last.pt").write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="refusing"):
        load_state(tmp_path)


def test_early_stopping_keeps_the_best_weights():
    m = torch.nn.Linear(2, 2)
    es = EarlyStopping(patience=2)
    seq = [1.0, 0.8, 0.9, 0.95]
    stops = []
    for e, v in enumerate(seq, 1):
        with torch.no_grad():
            m.weight.fill_(e)
        stops.append(es.step(v, e, m))
    assert stops == [False, False, False, True] and es.best_epoch == 2
    es.restore(m)
    assert torch.all(m.weight == 2)


def test_early_stopping_in_training_with_validation_split():
    ds = _dataset(n=40)
    m = build_model("lenet", 3, 2, 32)
    h = train_model(m, ds, _cfg(epochs=30, lr=0.5, optimizer="sgd", patience=2, val_fraction=0.25))
    assert all("val_loss" in r for r in h.rows)
    assert h.stopped_early and len(h.rows) < 30
    best = min(h.rows, key=lambda r: r["val_loss"])
    assert h.best_epoch == best["epoch"]


def test_holdout_is_stratified_and_disjoint():
    ds = _dataset(n=40, transform=WindowAugment(noise_variance=0.01, crop=24))
    tr, va = holdout(ds, 0.25, seed=0)
    assert len(tr) + len(va) == 40 and len(va) == 10
    assert int(va.labels.sum()) == 5
    assert not set(map(tuple, tr.offsets)) & set(map(tuple, va.offsets))
    assert va.transform is not None and va.transform.train is False  # validation: centre crop only


def test_multibranch_models_train_with_their_auxiliary_loss():
    ds = _dataset(n=8)
    m = build_model("mfaf_shufflenet", 3, 2, 32, rates=[1, 6], small_input=False, backbone_options={"width": "x0_5"})
    calls = []
    orig = m.training_loss
    m.training_loss = lambda *a, **k: calls.append(1) or orig(*a, **k)
    h = train_model(m, ds, _cfg(epochs=1, batch_size=4))
    assert calls and np.isfinite(h.rows[0]["loss"])


def test_preset_schedule_in_config():
    cfg = TrainConfig.from_preset("000", epochs=2, device="cpu")
    assert (cfg.optimizer, cfg.lr, cfg.momentum, cfg.scheduler, cfg.gamma, cfg.step_epochs, cfg.batch_size) == ("sgd", 0.02, 0.2, "step", 0.6, 30, 32)
    cfg = TrainConfig.from_preset("003")
    assert (cfg.optimizer, cfg.scheduler, cfg.min_lr, cfg.epochs) == ("adam", "cosine", 1e-5, 50)


def test_accelerate_is_plain_float32_on_cpu():
    m = torch.nn.Conv2d(3, 4, 3)
    acc = accelerate(m, torch.device("cpu"))
    assert not acc.amp and not acc.channels_last and acc.scaler is None
    x = acc.to_device(torch.randn(1, 3, 8, 8))
    assert x.is_contiguous()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_amp_channels_last_training():  # pragma: no cover - no GPU in CI
    ds = _dataset(n=16)
    m = build_model("resnet18", 3, 2, 32)
    h = train_model(m, ds, _cfg(epochs=1, device="cuda"))
    assert np.isfinite(h.rows[0]["loss"]) and h.device.startswith("cuda")


def test_cut_windows_equals_host_slicing():
    from geoprospect.windows.device import cut_windows

    data = torch.randn(3, 40, 37)
    rows, cols = torch.randint(0, 40 - 9 + 1, (50,)), torch.randint(0, 37 - 9 + 1, (50,))
    x = cut_windows(data, rows, cols, 9)
    assert x.shape == (50, 3, 9, 9) and x.is_contiguous()
    for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist())):
        assert torch.equal(x[i], data[:, r : r + 9, c : c + 9])


def test_device_windows_equal_the_dataloader_batches():
    from torch.utils.data import DataLoader

    from geoprospect.windows.device import DeviceBatches

    ds = _dataset(n=20, w=32)
    sampler = list(torch.randperm(20, generator=torch.Generator().manual_seed(0)))
    fast = list(DeviceBatches(ds, sampler, 6, torch.device("cpu")))
    slow = list(DataLoader(ds, batch_size=6, sampler=sampler))
    assert len(fast) == len(slow) == 4
    for (xf, yf), (xs, ys) in zip(fast, slow):
        assert torch.equal(xf, xs) and torch.equal(yf, ys)


def test_device_windows_augment_per_window():
    from geoprospect.windows.device import DeviceBatches

    ds = _dataset(n=8, w=32, transform=WindowAugment(flips=True, rotations=True, crop=24))
    db = DeviceBatches(ds, list(range(8)), 8, torch.device("cpu"), torch.Generator().manual_seed(0))
    (x, y), = list(db)
    assert x.shape == (8, 3, 24, 24)
    for i in range(8):  # each augmented window is one of the 8 symmetries of some 24-px crop of its window
        w = ds.window(i)
        crops = [w[:, r : r + 24, c : c + 24] for r in range(9) for c in range(9)]
        sym = lambda t: [torch.rot90(f, k, dims=(-2, -1)) for f in (t, t.flip(-1)) for k in range(4)]  # noqa: E731
        assert any(torch.equal(x[i], s) for cr in crops for s in sym(cr))


def test_training_on_device_windows_matches_dataloader_without_augmentation():
    ds = _dataset()
    torch.manual_seed(0)
    a = build_model("lenet", 3, 2, 32, dropout=0.0)  # (the DataLoader also draws from the global RNG)
    torch.manual_seed(0)
    b = build_model("lenet", 3, 2, 32, dropout=0.0)
    train_model(a, ds, _cfg(device_batches=False))
    train_model(b, ds, _cfg(device_batches=True))
    assert torch.allclose(_weights(a), _weights(b), atol=1e-6)


def test_a_last_batch_of_one_window_does_not_break_batchnorm():
    import numpy as np

    from geoprospect.models.registry import build_model
    from geoprospect.windows.dataset import WindowDataset

    data = np.random.default_rng(0).normal(size=(3, 40, 40)).astype("float32")
    offsets = np.array([[r, c] for r in range(0, 24, 8) for c in range(0, 24, 8)])[:9]  # 9 = 2 x 4 + 1
    ds = WindowDataset(data, offsets, 16, np.array([0, 1] * 4 + [0]))
    hist = train_model(build_model("resnet18", 3, 2, 16), ds, TrainConfig(epochs=1, batch_size=4, device="cpu"))
    assert len(hist.rows) == 1


def test_device_windows_drop_a_last_batch_of_one():
    ds = _dataset(n=9)
    torch.manual_seed(0)
    hist = train_model(build_model("resnet18", 3, 2, 32), ds, _cfg(epochs=1, batch_size=4, device_batches=True))
    assert len(hist.rows) == 1 and np.isfinite(hist.rows[0]["loss"])


def test_fit_by_name_seeds_the_initial_weights_like_the_run_always_did():
    """fit("lenet", ...) = torch.manual_seed(seed) + build_model + training (the run's order): same weights."""
    ds = _dataset(n=8)
    by_name, h = fit("lenet", ds, _cfg(epochs=1, seed=5))
    torch.manual_seed(5)
    built = build_model("lenet", 3, 2, 32)
    h2 = train_model(built, ds, _cfg(epochs=1, seed=5))
    assert torch.equal(_weights(by_name), _weights(built)) and h.rows == h2.rows


def test_fit_applies_the_config_augmentation_and_checks_the_crop(monkeypatch):
    import importlib

    from geoprospect.errors import ConfigError

    fit_module = importlib.import_module("geoprospect.training.fit")  # the module (the package exports the function)

    seen = {}

    def capture(model, train_ds, cfg, val_ds=None, **kw):
        seen["train"], seen["val"] = train_ds.transform, val_ds.transform
        return orig(model, train_ds, cfg, val_ds, **kw)

    orig = fit_module.train_torch
    monkeypatch.setattr(fit_module, "train_torch", capture)
    ds = _dataset(n=8, w=40)
    model, _ = fit("lenet", ds, _cfg(epochs=1, crop=32, noise_variance=0.01, flips=True, rotations=True), val_ds=ds)
    assert seen["train"] == WindowAugment(noise_variance=0.01, flips=True, rotations=True, crop=32)
    assert seen["val"] == WindowAugment(crop=32, train=False)  # validation: centre crop only
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 2)
    assert ds.transform is None  # the caller's dataset is left as it was
    with pytest.raises(ConfigError, match="crop 48 is larger than the 40-pixel windows"):
        fit("lenet", ds, _cfg(epochs=1, crop=48))


def test_validation_split_only_for_early_stopping():
    ds = _dataset(n=20)
    _, h = fit("lenet", ds, _cfg(epochs=1, val_fraction=0.3))  # patience 0: every window trains
    assert "val_loss" not in h.rows[0]
