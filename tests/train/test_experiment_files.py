"""Named experiments are found in a checkout or in the installed package; config files import their schema
without touching ``sys.path`` or a user's own ``experiments`` package."""

import shutil
import sys
import types

from jcnn.train import config, experiment_files

CHECKOUT = experiment_files.SEARCH_PATH[0]


def test_a_checkout_uses_its_own_folder():
    assert experiment_files.config_dir() == CHECKOUT
    assert "lenet5_mnist" in config.experiment_names() and "common" not in config.experiment_names()


def test_an_installed_copy_is_found_without_a_checkout(tmp_path, monkeypatch):
    """As in a wheel: jcnn/experiments/configs inside the package, no experiments/ beside it."""
    installed = tmp_path / "site-packages" / "jcnn" / "experiments" / "configs"
    shutil.copytree(CHECKOUT, installed, ignore=shutil.ignore_patterns("__pycache__"))
    (installed / "lenet5_mnist.py").write_text((CHECKOUT / "lenet5_mnist.py").read_text().replace(
        "cfg.train.batch_size = 128", "cfg.train.batch_size = 96"))
    monkeypatch.setattr(experiment_files, "SEARCH_PATH", (tmp_path / "no-checkout", installed))
    assert config.experiment_names() == sorted(p.stem for p in CHECKOUT.glob("[!_]*.py") if p.stem != "common")
    assert config.experiment_path("lenet5_mnist") == installed / "lenet5_mnist.py"
    assert config.load("lenet5_mnist").train.batch_size == 96  # the installed file ran, not the checkout's


def test_loading_leaves_sys_path_and_a_users_experiments_package_alone(monkeypatch):
    mine = types.ModuleType("experiments")
    monkeypatch.setitem(sys.modules, "experiments", mine)
    monkeypatch.delitem(sys.modules, "experiments.configs", raising=False)
    path = list(sys.path)
    cfg = config.load("resnet20_cifar10:smoke")
    assert cfg.model.name == "resnet20"
    assert sys.modules["experiments"] is mine and "experiments.configs" not in sys.modules
    assert sys.path == path


def test_a_lone_config_file_uses_jcnns_schema(tmp_path):
    """A user's copy of a config, outside any experiments folder, still imports experiments.configs.common."""
    mine = tmp_path / "my_lenet.py"
    mine.write_text((CHECKOUT / "lenet5_mnist.py").read_text().replace("cfg.optimizer.lr = 0.05",
                                                                         "cfg.optimizer.lr = 0.02"))
    cfg = config.load(path=str(mine))
    assert cfg.optimizer.lr == 0.02 and cfg.experiment == "my_lenet"
    config.validate(cfg)
