"""The Moving MNIST example runs end to end (tiny settings, synthetic digits)."""
import os
import sys

import pytest

from conftest import make_digits

pytest.importorskip("matplotlib", reason="python3-matplotlib is not installed")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
import train_mmnist  # noqa: E402


def test_train_mmnist_example(tmp_path, capsys):
    data = tmp_path / "mnist"
    data.mkdir()
    make_digits(data, n=20, side=28, gz=True)
    out = tmp_path / "out"
    rc = train_mmnist.main(["--data", str(data), "--out", str(out), "--steps", "3",
                            "--hidden", "8", "--batch", "2", "--input-frames", "3",
                            "--future-frames", "2", "--val-every", "2", "--val-size", "2",
                            "--threads", "1"])
    assert rc == 0
    assert (out / "loss.png").stat().st_size > 1000
    assert (out / "prediction.png").stat().st_size > 1000
    assert "step     2" in capsys.readouterr().out


def test_example_without_digits_explains(tmp_path):
    with pytest.raises(SystemExit, match="setup-mnist.sh"):
        train_mmnist.main(["--data", str(tmp_path), "--out", str(tmp_path / "o")])
