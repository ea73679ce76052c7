import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    # Never download nor write to ~/.cache from tests.
    monkeypatch.setenv("JCNN_DATA_DIR", str(tmp_path / "data"))
