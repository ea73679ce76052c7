"""The README's Python examples run as written, and its two set-up commands agree with CI."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index):
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)```", README, re.S)
    assert len(commands) >= 2
    test_cmd = commands[1].strip()
    ci = (ROOT / ".ci" / "run").read_text()
    # CI installs the same extra with the same locked versions and runs the same pytest invocation.
    assert 'pip install -q -c constraints.txt -e ".[test]"' in ci
    assert 'pip install -c constraints.txt -e ".[test]"' in test_cmd
    assert "pip install -c constraints.txt -e ." in commands[0]
    pytest_part = test_cmd.split("&&")[-1].strip()
    assert pytest_part in ci
