"""The wheel's package list (setup.py): every jcnn package, plus the named experiments' configs."""

import pathlib
import runpy

import setuptools

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_setup_ships_every_package_and_the_experiment_configs(monkeypatch):
    seen = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: seen.update(kw))
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "setup.py"))
    packages, mapping = set(seen["packages"]), seen["package_dir"]
    on_disk = {".".join(p.relative_to(ROOT).parts) for p in (ROOT / "jcnn").rglob("*")
               if p.is_dir() and p.name != "__pycache__"} | {"jcnn"}
    assert on_disk <= packages, on_disk - packages
    assert mapping == {"jcnn.experiments.configs": "experiments/configs"}
    assert (ROOT / "experiments" / "configs" / "common.py").is_file()
    # jcnn.train.experiment_files looks for the installed copy exactly there.
    from jcnn.train import experiment_files
    assert experiment_files.SEARCH_PATH[1] == ROOT / "jcnn" / "experiments" / "configs"
