"""``synthetic``: a tiny generated data set, built in, for smoke runs and tests.

28x28x1 uint8 images, 10 classes, 512 train / 128 test examples. Each class
has a fixed random template; an example is ``0.7 * template + 0.3 * noise``
with noise seeded by the example's index, so the set is identical on every
machine, needs no files, and is learnable in a few dozen steps.
"""

from __future__ import annotations

import numpy as np

SPLITS = {"train": 512, "test": 128}
SHAPE = (28, 28, 1)
NUM_CLASSES = 10


class SyntheticSource:
    """Random access: ``src[i] -> {"image": (28, 28, 1) uint8, "label": int32}``; ``get_batch``."""

    def __init__(self, split: str):
        self.split, self.n = split, SPLITS[split]
        self._offset = 0 if split == "train" else 1_000_000
        self._templates = np.random.default_rng(1234).uniform(0, 1, (NUM_CLASSES, *SHAPE))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        i = int(i)
        if not 0 <= i < self.n:
            raise IndexError(f"synthetic[{self.split!r}]: index {i} out of range [0, {self.n})")
        noise = np.random.default_rng(self._offset + i).uniform(0, 1, SHAPE)
        image = np.round(255 * (0.7 * self._templates[i % NUM_CLASSES] + 0.3 * noise)).astype(np.uint8)
        return {"image": image, "label": np.int32(i % NUM_CLASSES)}

    def get_batch(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """indices (N,) -> images (N, 28, 28, 1) uint8, labels (N,) int32."""
        examples = [self[i] for i in indices]
        return np.stack([e["image"] for e in examples]), np.asarray([e["label"] for e in examples], np.int32)

    def __repr__(self) -> str:
        return f"SyntheticSource({self.split!r}, n={self.n})"
