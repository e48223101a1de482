"""Every registered model: (B, C, H, W) -> (B, 2) logits, forward and backward, 3 and 14 bands."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from geoprospect.errors import ModelError
from geoprospect.models import build_model, list_models
from geoprospect.models.registry import compute_loss, count_parameters, model_table

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see conftest.py

EXPECTED = {
    "resnet18", "resnet50", "resnet50_2fc", "shufflenet_v2", "mobilenet_v2", "googlenet", "mnasnet",
    "efficientnet_b0", "vgg16", "alexnet", "vit", "lenet", "vgg8", "mfaf", "mfaf_shufflenet", "skt",
}
# Light configurations of the multi-branch / large models for the default (fast) run; the full
# default configurations are exercised by the slow tests.
# (small_input=False keeps torchvision's strided stem: 16x fewer operations on a 32-pixel window.)
_TV = dict(small_input=False)
LIGHT = {
    "vit": dict(num_layers=2, hidden_dim=64, num_heads=4, mlp_dim=128),
    "skt": dict(rates=[1, 6], small_input=False),
    "mfaf": dict(rates=[1, 6], small_input=False),
    "mfaf_shufflenet": dict(rates=[1, 6], small_input=False),
    **{n: _TV for n in ("resnet50", "resnet50_2fc", "googlenet", "mnasnet", "efficientnet_b0", "mobilenet_v2", "shufflenet_v2")},
}
HEAVY = {"vit", "vgg16", "resnet50", "resnet50_2fc", "skt", "alexnet", "mfaf", "googlenet", "efficientnet_b0"}


def _build(name: str, c: int, w: int, **opt) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # SKT without a source network
        torch.manual_seed(0)
        return build_model(name, c, 2, w, **opt)


def test_registry_has_every_model_of_issue_4():
    assert EXPECTED <= set(list_models())


def _forward_backward(name: str, bands: int, w: int = 32, **opt) -> None:
    model = _build(name, bands, w, **opt)
    model.train()
    x = torch.randn(2, bands, w, w)
    y = torch.tensor([0, 1])
    loss, logits = compute_loss(model, x, y, nn.CrossEntropyLoss())
    assert logits.shape == (2, 2)
    assert torch.isfinite(logits).all() and torch.isfinite(loss)
    loss.backward()
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d) and m.in_channels == bands and m.weight.requires_grad)
    assert first.weight.grad is not None  # the layer taking the C bands is trained
    # (torchvision's ViT zero-initialises its head, so only the head gets gradient at step 0)
    assert any(float(p.grad.abs().sum()) > 0 for p in model.parameters() if p.grad is not None)
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, 2) and torch.isfinite(out).all()


@pytest.mark.parametrize("bands", [3, 14])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_forward_backward_32px(name, bands):
    _forward_backward(name, bands, 32, **LIGHT.get(name, {}))


@pytest.mark.slow
@pytest.mark.parametrize("bands", [3, 14])
@pytest.mark.parametrize("name", sorted(LIGHT))
def test_forward_backward_32px_full_config(name, bands):
    _forward_backward(name, bands, 32)


@pytest.mark.parametrize("name", sorted(EXPECTED - HEAVY))
def test_forward_64px(name):
    model = _build(name, 5, 64, **LIGHT.get(name, {})).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 5, 64, 64)).shape == (1, 2)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HEAVY))
def test_heavy_forward_64px(name):
    model = _build(name, 3, 64).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 2)


def test_vit_and_skt_64px_light():
    for name in ("vit", "skt"):
        model = _build(name, 3, 64, **LIGHT[name]).eval()
        with torch.no_grad():
            assert model(torch.randn(1, 3, 64, 64)).shape == (1, 2)


def test_torchvision_stem_kept_for_large_windows():
    m = _build("resnet18", 8, 224)
    assert m.conv1.kernel_size == (7, 7) and m.conv1.stride == (2, 2) and m.conv1.in_channels == 8
    m = _build("resnet18", 8, 32)
    assert m.conv1.kernel_size == (3, 3) and m.conv1.in_channels == 8 and isinstance(m.maxpool, nn.Identity)


def test_vit_patch_size():
    assert _build("vit", 3, 32, num_layers=1, hidden_dim=32, num_heads=2, mlp_dim=32).patch_size == 8
    assert _build("vit", 3, 224, num_layers=1, hidden_dim=32, num_heads=2, mlp_dim=32).patch_size == 16  # paper 003
    with pytest.raises(ModelError, match="does not divide"):
        build_model("vit", 3, 2, 32, patch_size=5)


def test_resnet50_has_two_extra_fc_layers():
    m = _build("resnet50_2fc", 3, 32)
    linears = [l for l in m.fc if isinstance(l, nn.Linear)]
    assert len(linears) == 3 and linears[-1].out_features == 2


def test_bad_requests_raise_model_error():
    with pytest.raises(ModelError, match="unknown model"):
        build_model("resnet999", 3)
    with pytest.raises(ModelError, match="no option"):
        build_model("lenet", 3, 2, 32, depth=3)
    with pytest.raises(ModelError, match="at least 28"):
        build_model("lenet", 3, 2, 16)
    with pytest.raises(ModelError, match="in_channels"):
        build_model("resnet18", 0)
    with pytest.raises(ModelError, match="backbone"):
        build_model("mfaf", 3, 2, 32, backbone="vgg")


def test_model_table_counts_parameters():
    names = ["lenet", "vgg8", "resnet18", "resnet50"]
    rows = {r["name"]: r for r in model_table(in_channels=4, window_size=32, names=names)}
    assert set(rows) == set(names)
    assert rows["lenet"]["parameters"] == count_parameters(build_model("lenet", 4, 2, 32))
    assert rows["lenet"]["parameters"] < rows["resnet18"]["parameters"] < rows["resnet50"]["parameters"]
    assert all(r["description"] for r in rows.values())


def _blob_data(n: int = 64, c: int = 3, w: int = 32, seed: int = 0):
    """Class 1 windows carry a bright 8x8 square at a random place in band 0; class 0 do not."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, w, w, generator=g) * 0.3
    y = torch.arange(n) % 2
    for i in range(n):
        if y[i]:
            r, col = torch.randint(0, w - 8, (2,), generator=g).tolist()
            x[i, 0, r : r + 8, col : col + 8] += 2.0
    return x, y


@pytest.mark.parametrize(
    "name,steps,lr,opt",
    [
        ("lenet", 150, 3e-3, {}),
        ("vgg8", 60, 3e-3, {"width": 0.25}),
        pytest.param("vgg8", 60, 1e-3, {}, marks=pytest.mark.slow),
        pytest.param("mfaf_shufflenet", 60, 3e-3, {"backbone_options": {"width": "x0_5"}, "rates": [1, 6]}, marks=pytest.mark.slow),
    ],
)
def test_small_models_learn_a_tiny_dataset(name, steps, lr, opt):
    torch.manual_seed(0)
    x, y = _blob_data()
    xt, yt = _blob_data(seed=1)
    model = _build(name, 3, 32, **opt)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    crit = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randperm(len(x), generator=g)[:16]
        model.train()
        loss, _ = compute_loss(model, x[idx], y[idx], crit)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
    assert acc >= 0.9, f"{name} reached only {acc:.2f} on held-out tiny windows"


def test_model_table_says_what_each_model_sees():
    rows = {r["name"]: r for r in model_table(in_channels=4, window_size=32, names=["resnet18", "random_forest", "logistic_cell"])}
    assert "whole window" in rows["resnet18"]["sees"]
    assert "flattened" in rows["random_forest"]["sees"] and "centre cell" in rows["logistic_cell"]["sees"]
    assert {"svm", "knn", "random_forest", "decision_tree", "logistic", "logistic_cell", "random_forest_cell"} <= set(list_models())


def test_no_import_cycle_between_the_modules_of_models():
    """registry.py imports no sibling; the import graph of geoprospect/models/ is acyclic."""
    import ast
    from pathlib import Path

    import geoprospect.models as pkg

    folder = Path(pkg.__file__).parent
    graph = {}
    for f in folder.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("geoprospect.models."):
                    deps.add(node.module.split(".")[2])
                elif node.module == "geoprospect.models":
                    deps.update(a.name for a in node.names)
        graph[f.stem] = deps - {f.stem}
    assert graph["registry"] == set()
    assert "zoo" not in graph
    done, stack = set(), []

    def visit(n):
        assert n not in stack, f"import cycle: {' -> '.join(stack + [n])}"
        if n in done or n == "__init__":
            return
        stack.append(n)
        for d in graph.get(n, ()):
            visit(d)
        stack.pop()
        done.add(n)

    for n in graph:
        visit(n)
