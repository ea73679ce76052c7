"""constraints.txt pins every dependency pyproject.toml declares, at a version inside its range."""

import pathlib
import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pins():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line).groups()
            pins[canonicalize_name(name)] = version
    return pins


def test_every_declared_dependency_is_locked_inside_its_range():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = meta["dependencies"] + [r for extra in meta.get("optional-dependencies", {}).values() for r in extra]
    pins = _pins()
    problems = []
    for text in declared:
        req = Requirement(text)
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name}: not in constraints.txt")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}: locked {version} is outside {req.specifier}")
    assert not problems, "regenerate the lock with `.ci/lock` (see constraints.txt):\n" + "\n".join(problems)


def test_pyproject_gives_ranges_not_pins():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = [r for r in meta["dependencies"] if "==" in r]
    assert not pinned, f"exact pins belong in constraints.txt, pyproject.toml keeps ranges: {pinned}"
