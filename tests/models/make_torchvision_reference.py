"""Write the weight tests' fixtures from the real torchvision and timm (run once; jcnn is not imported).

Writes ``tests/models/data/torchvision_keys.json`` (each model's state dict keys and
shapes, the NumPy generator's digest, the library versions) and
``tests/models/data/torchvision_logits.npz`` (eval-mode logits of each model loaded
with :func:`_torchvision_reference.random_state_dict`, on ``input_images()``).

Run in a virtual environment of its own (x86_64, Python 3.11; the torchvision wheel is a
CUDA build that needs two operator schemas declared beside CPU torch, done below):

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.13.0
    /tmp/tv/bin/pip install --no-deps torchvision==0.28.0 timm==1.0.31 pyyaml numpy==2.4.6 pillow==13.0.0
    /tmp/tv/bin/python tests/models/make_torchvision_reference.py
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _torchvision_reference as ref  # noqa: E402


def build(model_id):
    lib, name = model_id.split(":")
    if lib == "timm":
        import timm

        return timm.create_model(name, pretrained=False)
    return getattr(ref.import_torchvision().models, name)()


def main():
    torch.set_num_threads(2)
    torchvision = ref.import_torchvision()
    import timm

    x = torch.from_numpy(ref.input_images().transpose(0, 3, 1, 2).copy())  # (N, 3, 224, 224)
    keys, logits = {}, {}
    for model_id in ref.MODELS:
        model = build(model_id).eval()
        spec = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        sd = ref.random_state_dict(model_id, spec)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
        with torch.no_grad():
            logits[model_id] = model(x).numpy().astype(np.float32)
        keys[model_id] = {"keys": spec, "digest": ref.digest(sd)}
        print(f"{model_id}: {len(spec)} tensors, max |logit| {np.abs(logits[model_id]).max():.3g}", flush=True)
    ref.DATA.mkdir(exist_ok=True)
    versions = {"torch": torch.__version__, "torchvision": torchvision.__version__, "timm": timm.__version__,
                "numpy": np.__version__}
    ref.KEYS_FILE.write_text(json.dumps({"versions": versions, "models": keys}, indent=None) + "\n")
    np.savez_compressed(ref.LOGITS_FILE, **logits)
    print(f"wrote {ref.KEYS_FILE} and {ref.LOGITS_FILE}")


if __name__ == "__main__":
    main()
