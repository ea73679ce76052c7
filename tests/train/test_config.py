import pytest

from jcnn.train import config, optim

REQUIRED = ["seed", "data.name", "train.steps", "train.batch_size", "optimizer.name", "optimizer.lr", "eval.every",
            "checkpoint.every", "checkpoint.keep"]
EXPERIMENTS = ["lenet5_mnist", "lenet5_classic_mnist", "resnet20_cifar10", "alexnet_imagenet2012", "vgg16_cifar10",
               "vgg16_imagenet2012", "resnet50_imagenet2012", "mobilenet_v2_imagenet2012", "dcgan_mnist"]


def test_all_experiments_listed():
    assert set(EXPERIMENTS) <= set(config.experiment_names())


@pytest.mark.parametrize("name", EXPERIMENTS)
@pytest.mark.parametrize("arg", [None, "smoke"])
def test_config_has_required_fields_and_is_locked(name, arg):
    cfg = config.load(f"{name}:{arg}" if arg else name)
    keys = config.flat_keys(cfg)
    for k in REQUIRED:
        assert k in keys
    optim.check(cfg)
    with pytest.raises(AttributeError):
        cfg.not_a_field = 1
    if arg:  # smoke settings run offline on a built-in set (photos10: ImageNet-like, variable-size JPEGs)
        expected = "photos10" if name.endswith("_imagenet2012") else "synthetic"
        assert cfg.data.name == expected


def test_resnet20_recipe():
    cfg = config.load("resnet20_cifar10")
    assert (cfg.optimizer.name, cfg.optimizer.lr, cfg.optimizer.momentum, cfg.optimizer.weight_decay) == \
        ("sgd", 0.1, 0.9, 1e-4)
    assert (cfg.train.batch_size, cfg.train.steps, tuple(cfg.schedule.boundaries)) == (128, 64_000, (32_000, 48_000))
    lr = optim.schedule(cfg, cfg.train.steps)
    assert [float(lr(s)) for s in (0, 31_999, 32_000, 48_000)] == pytest.approx([0.1, 0.1, 0.01, 0.001])


def test_overrides_typed():
    cfg = config.load("lenet5_mnist", overrides=["optimizer.lr=0.05", "train.steps=20", "optimizer.nesterov=true",
                                                 "optimizer.name=sgd", "data.mean=(0.5,)"])
    assert (cfg.optimizer.lr, cfg.train.steps, cfg.optimizer.nesterov, cfg.optimizer.name) == (0.05, 20, True, "sgd")
    assert tuple(cfg.data.mean) == (0.5,)
    assert config.load("lenet5_mnist", overrides=["optimizer.lr=1"]).optimizer.lr == 1.0


def test_unknown_field_lists_close_matches():
    with pytest.raises(ValueError, match=r"optimizer\.lrr.*optimizer\.lr"):
        config.load("lenet5_mnist", overrides=["optimizer.lrr=0.1"])


@pytest.mark.parametrize("item", ["train.steps=abc", "train.steps=1.5", "optimizer.lr=fast", "train.steps=True"])
def test_wrong_type(item):
    with pytest.raises(TypeError, match=item.split("=")[0]):
        config.load("lenet5_mnist", overrides=[item])


def test_malformed_override():
    with pytest.raises(ValueError, match="key=value"):
        config.load("lenet5_mnist", overrides=["optimizer.lr"])


def test_unknown_experiment_close_matches():
    with pytest.raises(ValueError, match="lenet5_mnist"):
        config.load("lenet5_mnst")


def test_config_path(tmp_path):
    cfg = config.load(path=str(config.experiment_path("lenet5_mnist")))
    assert cfg.model.name == "lenet5_modern"


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("sched", ["constant", "step", "cosine"])
def test_optimizers_build(name, sched):
    import jax.numpy as jnp
    cfg = config.load("lenet5_mnist", overrides=[f"optimizer.name={name}", f"schedule.name={sched}",
                                                 "optimizer.weight_decay=1e-4", "train.grad_clip=1.0",
                                                 "schedule.boundaries=(10,)"])
    tx = optim.optimizer(cfg, 100)
    p = {"w": jnp.ones(3)}
    upd, _ = tx.update({"w": jnp.ones(3)}, tx.init(p), p)
    assert upd["w"].shape == (3,)
