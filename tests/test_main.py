"""``python -m jcnn``: help, version and the train command's help answer without importing JAX."""

import json
import subprocess
import sys

import pytest

from jcnn.__main__ import main

PROBE = """
import json, sys
from jcnn.__main__ import main
try:
    rc = main(sys.argv[1:])
except SystemExit as e:
    rc = e.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "flax", "optax", "orbax", "grain",
                                                            "tensorflow_datasets", "numpy"))
print(json.dumps({"rc": rc, "heavy": heavy}))
"""


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["train", "--help"], ["train", "--list"], []],
                         ids=["help", "version", "train-help", "train-list", "nothing"])
def test_help_paths_import_no_jax(argv):
    """Before: every path imported jax (4-9 s). Checked by what got imported, not by timing."""
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], result["heavy"]
    assert result["rc"] == (2 if not argv else 0)
    assert out.stdout.strip() or out.stderr.strip()


def test_version_and_unknown_command(capsys):
    import jcnn

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"jcnn {jcnn.__version__}"
    with pytest.raises(SystemExit) as info:
        main(["trian"])
    assert info.value.code == 2
    assert "unknown command 'trian'" in capsys.readouterr().err


def test_import_jcnn_is_lazy_but_complete():
    code = ("import sys, json, jcnn; before = 'jax' in sys.modules; ops = jcnn.ops; "
            "print(json.dumps([before, 'jax' in sys.modules, callable(jcnn.summary), hasattr(ops, 'conv')]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, True, True, True]
