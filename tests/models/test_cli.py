"""``jcnn summary``: the command line of jcnn.models.summary."""

import json

from jcnn.__main__ import main

KEYS = {"name", "output_shape", "params", "macs", "flops", "rf", "jump", "start"}


def test_summary_json_lenet5(capsys):
    assert main(["summary", "lenet5", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert KEYS <= set(d["layers"][0]) and set(d["total"]) >= {"params", "macs", "flops"}
    assert d["total"]["params"] == 61_706
    assert d["layers"][0]["name"] == "conv1" and d["layers"][0]["output_shape"] == [1, 28, 28, 6]


def test_summary_input_option(capsys):
    assert main(["summary", "lenet5_modern", "--input", "28,28,1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["layers"][-1]["output_shape"] == [1, 10]
    assert d["layers"][0]["rf"] == 5 and d["layers"][0]["start"] == 0  # 5x5 padded by 2


def test_summary_table(capsys):
    assert main(["summary", "lenet5"]) == 0
    assert "Total params: 61,706" in capsys.readouterr().out


def test_unknown_name_exits_2_with_close_matches(capsys):
    assert main(["summary", "lenet"]) == 2
    assert "lenet5" in capsys.readouterr().err


def test_bad_num_classes_is_one_line_and_exit_2(capsys):
    for value in ("0", "-3"):
        assert main(["summary", "lenet5", "--num-classes", value]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--num-classes {value}" in err and "Traceback" not in err
