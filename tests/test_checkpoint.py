import pickle

import pytest
import torch

from geoprospect.errors import ModelError
from geoprospect.models.checkpoint import ModelMeta, load_checkpoint, save_checkpoint
from geoprospect.models.registry import build_model


def _meta(bands):
    return ModelMeta("resnet18", len(bands), bands, [0.0] * len(bands), [1.0] * len(bands), 32, 16)


def test_round_trip_gives_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    m = build_model("resnet18", 3, 2, 32).eval()
    save_checkpoint(tmp_path, m, _meta(["a", "b", "c"]))
    m2, meta = load_checkpoint(tmp_path, ["a", "b", "c"])
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(m(x), m2(x))
    assert meta.versions["torch"] == torch.__version__


def test_band_mismatch_is_refused(tmp_path):
    save_checkpoint(tmp_path, build_model("resnet18", 3, 2, 32), _meta(["a", "b", "c"]))
    with pytest.raises(ModelError, match="do not match the model's 3 bands"):
        load_checkpoint(tmp_path, ["a", "b"])
    with pytest.raises(ModelError):
        load_checkpoint(tmp_path, ["a", "c", "b"])


class _Evil:
    def __reduce__(self):
        return (exec, ("open('/tmp/geoprospect_pwned','w').write('x')",))


def test_crafted_pickle_is_refused(tmp_path):
    save_checkpoint(tmp_path, build_model("resnet18", 3, 2, 32), _meta(["a", "b", "c"]))
    with open(tmp_path / "model.pt", "wb") as f:
        pickle.dump({"conv1.weight": _Evil()}, f)
    with pytest.raises(ModelError, match="refusing to load"):
        load_checkpoint(tmp_path, ["a", "b", "c"])
    import os

    assert not os.path.exists("/tmp/geoprospect_pwned")


def test_unknown_architecture():
    with pytest.raises(ModelError, match="unknown model"):
        build_model("resnet9000", 3)
