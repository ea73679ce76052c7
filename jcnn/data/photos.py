"""An ImageNet-like image folder generated offline from scikit-image's bundled photographs.

For tests, smoke runs and the input benchmark: no download, deterministic in
``seed``. Each of up to 12 classes is one photograph (``PHOTOS``); an example
is a random crop of it (area 30-100%, aspect 0.6-1.7) rescaled so its longer
side falls in ``size_range``, saved as JPEG at quality 75-95 -- except every
10th as PNG, every 7th as a greyscale JPEG and every 11th as a CMYK JPEG, the
odd files real folders contain. The classes differ in colour and texture, so a
small network learns them within a few hundred steps.
"""

from __future__ import annotations

import os

import numpy as np

# class name -> scikit-image loader (all bundled with the package, no network).
PHOTOS = {
    "astronaut": "astronaut", "brick": "brick", "cat": "cat", "coffee": "coffee", "coins": "coins",
    "grass": "grass", "hubble": "hubble_deep_field", "retina": "retina", "rocket": "rocket",
    "stain": "immunohistochemistry", "camera": "camera", "gravel": "gravel",
}


def photo(name: str) -> np.ndarray:
    """The photograph of class ``name`` as (H, W, 3) uint8 (greyscale ones repeated to 3 channels)."""
    from skimage import data

    image = getattr(data, PHOTOS[name])()
    return np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3]  # (H, W, 3) uint8


def example(photo: np.ndarray, rng: np.random.Generator, size_range=(120, 320)):
    """One random crop of ``photo`` rescaled to a random size: a PIL RGB image."""
    from PIL import Image

    height, width = photo.shape[:2]
    for _ in range(20):
        area = height * width * rng.uniform(0.3, 1.0)
        aspect = np.exp(rng.uniform(np.log(0.6), np.log(1.7)))
        w, h = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
        if w <= width and h <= height:
            break
    else:
        w, h = width, height
    top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    longer = int(rng.integers(size_range[0], size_range[1] + 1))
    scale = longer / max(h, w)
    crop = Image.fromarray(photo[top:top + h, left:left + w])
    return crop.resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.Resampling.BILINEAR)


def save_example(image, path_stem: str, k: int, rng: np.random.Generator) -> str:
    """Saves as JPEG q75-95, or (by ``k``) PNG / greyscale JPEG / CMYK JPEG; returns the path."""
    if k % 10 == 9:
        path = path_stem + ".png"
        image.save(path)
        return path
    if k % 7 == 6:
        image = image.convert("L")
    elif k % 11 == 10:
        image = image.convert("CMYK")
    path = path_stem + ".JPEG"
    image.save(path, "JPEG", quality=int(rng.integers(75, 96)))
    return path


def make_folder(root: str, *, num_classes: int = 10, per_class: dict | None = None, size_range=(120, 320),
                seed: int = 0) -> dict[str, list[str]]:
    """Writes ``root/<split>/<class>/<k>.JPEG`` (or .png) for each split in ``per_class``.

    Args:
      root: output folder (created).
      num_classes: the first ``num_classes`` of ``PHOTOS`` (at most 12).
      per_class: split -> images per class; default ``{"train": 20, "val": 5}``.
      size_range: (min, max) longer side in pixels.
      seed: everything is a function of (seed, class, split, k).
    Returns:
      split -> paths written, in (class, k) order.
    """
    if not 1 <= num_classes <= len(PHOTOS):
        raise ValueError(f"make_folder: num_classes={num_classes} must be in [1, {len(PHOTOS)}]")
    per_class = per_class or {"train": 20, "val": 5}
    written = {split: [] for split in per_class}
    for c, name in enumerate(list(PHOTOS)[:num_classes]):
        source = photo(name)
        for s, (split, n) in enumerate(per_class.items()):
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for k in range(n):
                rng = np.random.default_rng([seed, c, s, k])
                image = example(source, rng, size_range)
                written[split].append(save_example(image, os.path.join(folder, f"{name}_{k:04d}"), k, rng))
    return written


NAME = "photos10"  # the built-in generated set: 10 classes, train 20 / validation 5 per class
SPLITS = {"train": 200, "validation": 50}


def prepare(data_dir=None, *, progress: bool = False) -> str:
    """Generates ``photos10`` and imports it into ``data_dir`` (once; later calls find it there)."""
    import tempfile

    from jcnn.data import image_import, store

    root = store.resolve_data_dir(data_dir)
    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{NAME}.raw-", dir=root) as raw:
        make_folder(raw, num_classes=10, per_class={"train": 20, "val": 5})
        try:
            return image_import.import_folder(NAME, raw, data_dir=root, progress=progress)
        except ValueError:
            if store.read_meta(NAME, root) is None:  # not just another process winning the race
                raise
            return os.path.join(root, NAME)
