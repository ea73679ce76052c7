"""``jcnn.train.predictor``: raw images in, the trainer's own test accuracy out."""

import numpy as np
import pytest

import jcnn.train as jt
from jcnn.train import config, loop


@pytest.mark.parametrize("name", ["lenet5_classic_mnist:smoke", "resnet20_cifar10:smoke"],
                         ids=["padded", "batchnorm-augmented"])
def test_predictor_reproduces_the_reported_test_accuracy(tmp_path, name):
    """Before: load_model's network took normalised input with nothing saying so (raw pixels: wrong answers)."""
    cfg = config.load(name, overrides=["eval.max_batches=3"])
    s = jt.train(cfg, tmp_path, progress=False, log=lambda m: None)
    predict = jt.predictor(tmp_path)
    assert predict.step == s["step"] and predict.config.data.pad == cfg.data.pad
    correct = count = loss = 0
    logits_all = []
    for b in loop.eval_batches(cfg, cfg.eval.batch_size):  # the trainer's own test batches, raw uint8
        assert b["image"].dtype == np.uint8
        logits = np.asarray(predict(b["image"]))
        assert logits.shape == (len(b["image"]), cfg.model.num_classes) and logits.dtype == np.float32
        correct += float(np.sum((logits.argmax(-1) == b["label"]) * b["mask"]))
        count += float(np.sum(b["mask"]))
        shifted = logits.astype(np.float64) - logits.max(-1, keepdims=True)  # NumPy cross-entropy oracle
        nll = np.log(np.exp(shifted).sum(-1)) - np.take_along_axis(shifted, b["label"][:, None].astype(int), -1)[:, 0]
        loss += float(np.sum(nll * b["mask"]))
        logits_all.append(logits)
    (test,) = [r for r in jt.read_metrics(tmp_path) if r["split"] == "test"]
    assert count == test["examples"] == 3 * cfg.eval.batch_size
    assert correct / count == s["test_accuracy"]  # exactly: the same preprocessing and network
    assert loss / count == pytest.approx(s["test_loss"], rel=1e-5)  # (float32 sums in the eval step)
    # Floats in [0, 1] are the same images.
    b = next(loop.eval_batches(cfg, cfg.eval.batch_size))
    np.testing.assert_allclose(predict(b["image"].astype(np.float32) / 255), logits_all[0], rtol=1e-5, atol=1e-5)


def test_predictor_checks_its_input(tmp_path):
    jt.train(config.load("lenet5_classic_mnist:smoke", overrides=["train.steps=1", "eval.every=0",
                                                                  "checkpoint.every=0"]),
             tmp_path / "lenet", progress=False, log=lambda m: None)
    predict = jt.predictor(tmp_path / "lenet")
    with pytest.raises(ValueError, match=r"predictor: images of shape \(28, 28, 1\) must be a batch"):
        predict(np.zeros((28, 28, 1), np.uint8))
    with pytest.raises(TypeError, match="dtype bool"):
        predict(np.zeros((2, 28, 28, 1), bool))
    with pytest.raises(FileNotFoundError, match="no checkpoints"):
        jt.predictor(tmp_path / "empty")
