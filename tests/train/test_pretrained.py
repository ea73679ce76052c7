"""``jcnn weights import/export`` and ``model.init_from``: imported weights as a training checkpoint, fine-tuning."""

import hashlib
import pathlib
import sys

import jax
import numpy as np
import pytest

import jcnn.train as jt
from jcnn.__main__ import main
from jcnn.models import weights
from jcnn.train import config, optim, pretrained, state as state_lib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "models"))
import _torchvision_reference as ref  # noqa: E402

MODEL_ID = "torchvision:resnet18"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """(state dict, its .safetensors file, the import directory) of the reference ResNet-18."""
    root = tmp_path_factory.mktemp("weights")
    sd = ref.random_state_dict(MODEL_ID, ref.load_keys()["models"][MODEL_ID]["keys"])
    file = weights.save_state_dict(sd, root / "resnet18.safetensors")
    assert main(["weights", "import", "resnet18", "--from", str(file), "--out", str(root / "r18")]) == 0
    return sd, file, root / "r18"


def test_import_is_a_checkpoint_load_model_reads_with_torchvisions_logits(imported):
    sd, file, out = imported
    saved = jt.load(out)
    assert saved["meta"]["experiment"] == "imagenet_pretrained:resnet18"
    assert saved["meta"]["weights"]["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    model = jt.load_model(out)
    logits = np.asarray(jax.jit(lambda x: model(x))(ref.input_images()))
    want = np.load(ref.LOGITS_FILE)[MODEL_ID]
    assert np.abs(logits - want).max() / np.abs(want).max() <= 1e-4


def test_export_gives_back_the_torchvision_state_dict(imported, tmp_path):
    sd, _, out = imported
    assert main(["weights", "export", str(out), "--to", str(tmp_path / "back.npz")]) == 0
    back = weights.read_state_dict(tmp_path / "back.npz")
    assert sorted(back) == sorted(sd)
    for k in sd:
        np.testing.assert_array_equal(back[k], sd[k], err_msg=k)


@pytest.mark.parametrize("argv, message", [
    (["resnet18", "--from", "missing.safetensors"], "no file"),
    (["alexnet", "--from", "x.pth"], "one weird trick"),
    (["resnet19", "--from", "x.pth"], "torchvision has no network matching"),
])
def test_import_slips_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    assert main(["weights", "import", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_import_refuses_a_directory_with_checkpoints(imported, capsys):
    _, file, out = imported
    assert main(["weights", "import", "resnet18", "--from", str(file), "--out", str(out)]) == 2
    assert "already holds checkpoints [0]" in capsys.readouterr().err


def _flat(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": np.asarray(v)})
    return out


def test_init_from_starts_from_the_import_with_a_fresh_classifier(imported):
    sd, _, out = imported
    cfg = config.load("resnet18_finetune_folder", overrides=[f"model.init_from={out}", "model.num_classes=3",
                                                             "seed=5"])
    _, state = state_lib.create(cfg, optim.optimizer(cfg, cfg.train.steps))
    params, stats = _flat(state["params"]), _flat(state["batch_stats"])
    np.testing.assert_array_equal(params["layer3.1.conv2.conv.kernel"], sd["layer3.1.conv2.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(stats["stem.bn.var"], sd["bn1.running_var"])
    assert params["fc.kernel"].shape == (512, 3)
    fresh = _flat(state_lib.create(config.load("resnet18_finetune_folder", overrides=[
        "model.num_classes=3", "seed=5", "model.init_from="]), optim.optimizer(cfg, cfg.train.steps))[1]["params"])
    np.testing.assert_array_equal(params["fc.kernel"], fresh["fc.kernel"])
    assert not np.array_equal(params["layer3.1.conv2.conv.kernel"], fresh["layer3.1.conv2.conv.kernel"])


def test_init_from_errors_name_the_problem(imported, tmp_path):
    _, _, out = imported
    cfg = config.load("resnet18_finetune_folder", overrides=[f"model.init_from={tmp_path}"])
    with pytest.raises(ValueError, match="no checkpoints/ folder"):
        state_lib.create(cfg, optim.optimizer(cfg, 10))
    cfg = config.load("resnet18_finetune_folder", overrides=[f"model.init_from={out}", "model.name=resnet34"])
    with pytest.raises(ValueError, match="holds model 'resnet18', this run builds 'resnet34'"):
        state_lib.create(cfg, optim.optimizer(cfg, 10))


def test_classifier_is_the_last_dense_layer():
    from flax import nnx

    from jcnn import models

    for name, head in (("resnet18", "fc"), ("vgg11", "fc8"), ("mobilenet_v2", "fc"), ("lenet5", "fc3")):
        assert pretrained.classifier_path(nnx.eval_shape(lambda n=name: models.create(n))) == head, name


@pytest.mark.slow
def test_fine_tuning_run_on_an_image_folder(imported, tmp_path):
    from PIL import Image

    from jcnn import data

    _, _, out = imported
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("test", 2)):
        for c in range(3):
            (tmp_path / "folder" / split / f"class{c}").mkdir(parents=True)
            for i in range(n):
                img = np.clip(rng.normal(60 + 60 * c, 30, (32, 32, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(tmp_path / "folder" / split / f"class{c}" / f"{i}.png")
    data.import_folder("tiny3", str(tmp_path / "folder"), progress=False)
    cfg = config.load("resnet18_finetune_folder", overrides=[
        f"model.init_from={out}", "model.num_classes=3", "data.name=tiny3", "data.eval_split=test",
        "data.augment=flip_lr", "train.steps=2", "train.batch_size=4", "eval.batch_size=6", "eval.every=0",
        "checkpoint.every=0", "schedule.warmup_steps=0"])
    s = jt.train(cfg, tmp_path / "run", progress=False, log=lambda m: None)
    assert s["step"] == 2 and np.isfinite(s["test_loss"]) and len(s["per_class_accuracy"]) == 3
    assert jt.load_model(tmp_path / "run").fc.kernel.shape == (512, 3)
