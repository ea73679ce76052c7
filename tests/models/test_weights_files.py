"""State dict files: .safetensors and .npz without torch, .pth with it; wrappers and prefixes; clear errors."""

import importlib.util
import sys

import numpy as np
import pytest

from jcnn.models import weights

HAS_TORCH = importlib.util.find_spec("torch") is not None
SD = {"conv1.weight": np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2), "bn1.num_batches_tracked": np.array(7),
      "fc.bias": np.array([0.5, -1.25], np.float32)}


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_round_trip_without_torch(suffix, tmp_path):
    path = weights.save_state_dict(SD, tmp_path / f"w{suffix}")
    back = weights.read_state_dict(path)
    assert sorted(back) == sorted(SD)
    for k, v in SD.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype


def test_dataparallel_prefix_is_removed(tmp_path):
    path = weights.save_state_dict({f"module.{k}": v for k, v in SD.items()}, tmp_path / "w.safetensors")
    assert sorted(weights.read_state_dict(path)) == sorted(SD)


def test_errors_name_the_file(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="read_state_dict: no file"):
        weights.read_state_dict(tmp_path / "nope.pth")
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(ValueError, match=r"'.txt'; expected one of"):
        weights.read_state_dict(tmp_path / "w.txt")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="cannot read .*bad.safetensors"):
        weights.read_state_dict(tmp_path / "bad.safetensors")
    (tmp_path / "w.pth").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "torch", None)  # as if PyTorch were not installed
    with pytest.raises(ImportError, match=r"needs PyTorch.*jcnn\[torch\].*\.safetensors"):
        weights.read_state_dict(tmp_path / "w.pth")


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch not installed (the optional 'torch' extra)")
def test_pth_files_through_torch(tmp_path):
    import torch

    path = weights.save_state_dict(SD, tmp_path / "w.pth")
    back = weights.read_state_dict(path)
    for k, v in SD.items():
        np.testing.assert_array_equal(back[k], v)
    # A training checkpoint wrapping the state dict, in half precision, is unwrapped and widened.
    torch.save({"epoch": 3, "state_dict": {"fc.bias": torch.tensor([0.5, -1.25], dtype=torch.bfloat16)}},
               tmp_path / "ckpt.pth")
    back = weights.read_state_dict(tmp_path / "ckpt.pth")
    assert list(back) == ["fc.bias"] and back["fc.bias"].dtype == np.float32
    np.testing.assert_array_equal(back["fc.bias"], [0.5, -1.25])
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pth")  # a pickled module, not a state dict
    with pytest.raises(ValueError, match="weights_only=True"):
        weights.read_state_dict(tmp_path / "module.pth")
