"""`python -m fmnist playground`: JSON lines, the issue's example, exit 2 with one line on bad arguments."""

import subprocess
import sys

import pytest

from fmnist.cli.main import main
from fmnist.playground import STUCK_TWO_UNITS, Setup, train
from tests.helpers import run_json, two_unit_seeds


def test_issue_example_prints_progress_and_a_final_summary(capsys):
    code, lines = run_json(capsys, ["playground", "--dataset", "xor", "--hidden", "2", "--activation", "tanh",
                                    "--steps", "2000", "--seed", "0", "--json"])
    assert code == 0
    *progress, summary = lines
    assert [p["step"] for p in progress] == list(range(200, 2000, 200))
    assert summary["summary"] is True and summary["step"] == 2000
    assert {"train_acc", "test_acc", "train_loss", "test_loss", "elapsed_s"} <= set(summary)
    # The same as the engine's own run of that setup: percent, not fractions.
    *_, done = train(Setup(dataset="xor", hidden=(2,), activation="tanh", seed=0), 2000)
    assert summary["test_acc"] == pytest.approx(done.metrics.test_acc) and summary["test_acc"] > 1
    assert summary["train_loss"] == pytest.approx(done.metrics.train_loss)


def test_summary_says_stuck_for_a_stuck_seed_and_not_for_a_solving_one(capsys):
    for want_stuck in (True, False):
        seed, _ = two_unit_seeds(want_stuck)
        code, lines = run_json(capsys, ["playground", "--hidden", "2", "--seed", str(seed), "--json"])
        assert code == 0 and lines[-1]["stuck"] is want_stuck and (lines[-1]["train_acc"] < 95) is want_stuck
        assert all("stuck" not in line for line in lines[:-1])
        assert main(["playground", "--hidden", "2", "--seed", str(seed)]) == 0
        text = capsys.readouterr().out.splitlines()
        assert text[-2].startswith("Done: ") if want_stuck else text[-1].startswith("Done: ")
        assert (text[-1] == STUCK_TWO_UNITS) is want_stuck


def test_hidden_zero_is_the_linear_model_and_two_widths_two_layers(capsys):
    code, lines = run_json(capsys, ["playground", "--hidden", "0", "--steps", "50", "--json"])
    assert code == 0
    *_, line = train(Setup(hidden=()), 50)
    assert lines[-1]["test_loss"] == pytest.approx(line.metrics.test_loss)
    assert main(["playground", "--hidden", "4,4", "--steps", "10"]) == 0
    assert "2 → 4 → 4 → 1 tanh" in capsys.readouterr().out


def test_text_output_and_features(capsys):
    assert main(["playground", "--dataset", "circles", "--features", "x1^2,x2^2", "--steps", "30", "--every", "10",
                 "--l2", "0.001", "--noise", "0.2", "--points", "100", "--train-fraction", "0.6"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Training circles, 2 → 2 → 1 tanh on 100 points (60 for training)")
    assert [line.split()[1] for line in out[1:3]] == ["10", "20"] and out[-1].startswith("Done: step     30")


@pytest.mark.parametrize("args, message", [
    (["--hidden", "9"], "1 to 8 units"),
    (["--hidden", "1,1,1,1,1,1,1"], "0 to 6 hidden layers"),
    (["--noise", "-1"], "noise must be between 0 and 1"),
    (["--points", "0"], "use 20 to 2000 points"),
    (["--features", "x3"], "unknown feature 'x3'"),
    (["--batch-size", "300"], "batch size must be between 1 and the 200 training points"),
    (["--steps", "0"], "--steps must be at least 1"),
    (["--dataset", "moons"], "invalid choice: 'moons'"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["playground", *args])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ""
    lines = err.strip().splitlines()
    assert message in lines[-1]
    if "invalid choice" not in message:  # argparse's own errors come with its usage line first
        assert len(lines) == 1 and lines[0].startswith("python -m fmnist playground: error:")


def test_bad_arguments_exit_2_from_the_shell():
    proc = subprocess.run([sys.executable, "-m", "fmnist", "playground", "--hidden", "9"], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "python -m fmnist playground: error: hidden: each layer needs 1 to 8 units (got 9)\n"


def test_bench_prints_one_json_object(capsys):
    code, [result] = run_json(capsys, ["playground", "--bench", "--hidden", "8,8,8,8,8,8", "--json"])
    assert code == 0 and result["grid"] == "80x80" and result["repeats"] == 200
    assert result["network"] == "xor, 2 → 8 → 8 → 8 → 8 → 8 → 8 → 1 tanh" and result["median_ms"] > 0
