"""``predictor(workdir)``: a trained classifier that takes images as the data pipeline yields them.

:func:`jcnn.train.load_model` returns the bare network, which expects the
normalised input the training step feeds it. :func:`predictor` puts the run's
own preprocessing in front of it: the same :func:`jcnn.train.step.make_preprocess`
the evaluation step calls (``data.pad``, then ``(x - data.mean) / data.std`` via
:func:`jcnn.ops.standardize_images`, cast to ``train.precision``; no
augmentation), built from the config stored in the checkpoint. So
``argmax(predictor(workdir)(batch["image"]))`` on the run's evaluation batches
gives exactly the test accuracy the trainer reported.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from jcnn.train import loop, step as step_lib


class Predictor:
    """``images -> logits`` of a trained classifier run (see :func:`predictor`).

    Attributes:
      model: the network (``nnx.Module`` in eval mode), as :func:`jcnn.train.load_model` returns it.
      config: the run's config (``ml_collections.ConfigDict``) as its checkpoint stores it.
      step: the checkpoint's step.
    """

    def __init__(self, model, cfg, step: int):
        self.model, self.config, self.step = model, cfg, int(step)
        self._channels = len(cfg.data.mean) if len(cfg.data.mean) > 1 else None
        preprocess = step_lib.make_preprocess(cfg)
        graphdef, state = nnx.split(model)

        def apply(state, images):
            # The network in eval mode on the preprocessed batch: the eval step's own arithmetic.
            return nnx.merge(graphdef, state)(preprocess(images)).astype(jnp.float32)

        self._state, self._apply = state, jax.jit(apply)

    def __call__(self, images):
        """Logits of a batch.

        Args:
          images: (N, H, W, C) as the run's evaluation pipeline yields them: uint8 pixels in
            [0, 255] or floats in [0, 1], at the stored size (after the host's centre crop when
            the config has ``data.image_size``); not padded, not normalised.
        Returns:
          (N, num_classes) float32 logits.
        Raises:
          ValueError / TypeError: not a batch of images with the run's channel count, or not a number type.
        """
        images = images if isinstance(images, jax.Array) else np.asarray(images)
        if images.ndim != 4:
            raise ValueError(f"predictor: images of shape {tuple(images.shape)} must be a batch (N, H, W, C)")
        if self._channels is not None and images.shape[-1] != self._channels:
            raise ValueError(f"predictor: images {tuple(images.shape)} have C={images.shape[-1]} channels; this run "
                             f"was trained on C={self._channels} (data.mean={tuple(self.config.data.mean)})")
        if not (jnp.issubdtype(images.dtype, jnp.integer) or jnp.issubdtype(images.dtype, jnp.floating)):
            raise TypeError(f"predictor: images dtype {images.dtype} must be uint8 or float")
        return self._apply(self._state, images)


def predictor(workdir, step: int | None = None) -> Predictor:
    """The classifier of ``workdir``'s newest good checkpoint (or ``step``) with the run's input preprocessing.

    ``predict = jcnn.train.predictor("runs/lenet"); logits = predict(images)`` with
    ``images`` (N, H, W, C) uint8 (or [0, 1] floats) as ``jcnn.data.pipeline`` yields
    them; the result is (N, num_classes) float32 logits, bit-identical to the
    evaluation step's. Images of another source must first be brought to the
    run's stored size (e.g. :func:`jcnn.models.eval_image` for a registered model).

    Raises:
      ValueError: the run is a GAN (use :func:`jcnn.train.load_model` with ``net=``).
      FileNotFoundError: no checkpoints in ``workdir``.
    """
    model, meta = loop.load_model_and_meta(workdir, step)
    cfg = ml_collections.ConfigDict(meta["config"])
    if cfg.task != "classify":
        raise ValueError(f"jcnn.train.predictor: {workdir} holds a task={cfg.task!r} run; predictor is for "
                         f"classifiers (use jcnn.train.load_model(workdir, net='g') for a generator)")
    return Predictor(model, cfg, meta["step"])
