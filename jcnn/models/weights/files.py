"""State dict files: read and write ``{name: array}`` as NumPy, whatever wrote them.

- ``.safetensors`` (timm, Hugging Face): the ``safetensors`` package's NumPy API, no torch;
- ``.pth`` / ``.pt`` / ``.bin`` / ``.ckpt`` (torchvision's downloads): ``torch.load`` with
  ``weights_only=True`` (no code in the file runs), when PyTorch is installed
  (``pip install 'jcnn[torch]'``);
- ``.npz``: NumPy, for files written without either.

Training checkpoints that wrap the state dict (``{"state_dict": {...}, "epoch": ...}``)
are unwrapped, and DataParallel's ``module.`` prefix is removed.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
SUFFIXES = (".safetensors", ".npz") + TORCH_SUFFIXES
_WRAPPERS = ("state_dict", "model_state_dict", "model", "module")


def _suffix(path, fn):
    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{fn}: {str(path)!r} has suffix {suffix!r}; expected one of {SUFFIXES}")
    return suffix


def _torch(fn, path):
    try:
        import torch
    except ImportError:
        raise ImportError(f"{fn}: reading or writing {str(path)!r} needs PyTorch, which is not installed: "
                          f"pip install 'jcnn[torch]', or use a .safetensors file (no PyTorch needed)") from None
    return torch


def _to_numpy(value, key, path, fn):
    if hasattr(value, "detach"):  # a torch.Tensor
        t = value.detach().cpu()
        if t.is_floating_point() and t.element_size() < 4:
            t = t.float()  # float16 / bfloat16: NumPy has no bfloat16; jcnn's parameters are float32 anyway
        return t.numpy()
    if isinstance(value, np.ndarray):
        return value
    raise ValueError(f"{fn}: entry {key!r} of {str(path)!r} is a {type(value).__name__}, not a tensor; "
                     f"is this a state dict (torch.save(model.state_dict(), ...))?")


def _unwrap(obj, path, fn):
    if not isinstance(obj, dict):
        raise ValueError(f"{fn}: {str(path)!r} holds a {type(obj).__name__}, not a state dict; save "
                         f"model.state_dict() rather than the model")
    for key in _WRAPPERS:
        if key in obj and isinstance(obj[key], dict) and not any(hasattr(v, "shape") for v in obj.values()):
            return _unwrap(obj[key], path, fn)
    return obj


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``{name: array}`` of a state dict file (suffix picks the reader; see the module docstring).

    Raises:
      FileNotFoundError: no such file. ValueError: unknown suffix, or not a state dict.
      ImportError: a PyTorch file without PyTorch installed.
    """
    fn = "read_state_dict"
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{fn}: no file {str(path)!r}")
    suffix = _suffix(path, fn)
    if suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            raw = load_file(str(path))
        except Exception as e:  # noqa: BLE001 -- the library's errors are many; one message names the file
            raise ValueError(f"{fn}: cannot read {str(path)!r} as safetensors ({type(e).__name__}: {e})") from e
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            raw = {k: f[k] for k in f.files}
    else:
        torch = _torch(fn, path)
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 -- pickle and zip errors alike mean: not a loadable state dict
            raise ValueError(f"{fn}: torch.load could not read {str(path)!r} with weights_only=True "
                             f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
    raw = _unwrap(raw, path, fn)
    out = {}
    for key, value in raw.items():
        name = key[len("module."):] if key.startswith("module.") else key  # DataParallel's prefix
        out[name] = _to_numpy(value, key, path, fn)
    return out


def save_state_dict(state_dict: dict, path: str | os.PathLike) -> pathlib.Path:
    """Write ``{name: array}`` to ``path`` (``.safetensors``, ``.npz``, or a PyTorch suffix); returns the path."""
    fn = "save_state_dict"
    path = pathlib.Path(path)
    suffix = _suffix(path, fn)
    arrays = {k: np.ascontiguousarray(v) for k, v in state_dict.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".safetensors":
        from safetensors.numpy import save_file

        save_file(arrays, str(path))
    elif suffix == ".npz":
        np.savez(path, **arrays)
    else:
        torch = _torch(fn, path)
        torch.save({k: torch.from_numpy(v.copy()) for k, v in arrays.items()}, path)
    return path
