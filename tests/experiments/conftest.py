"""Experiment scripts live outside the package: make ``experiments/`` importable for their tests."""

import pathlib
import sys

EXPERIMENTS = pathlib.Path(__file__).resolve().parents[2] / "experiments"
sys.path.insert(0, str(EXPERIMENTS))
