import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fmnist.cli.main import main
from fmnist.data.dataset import CLASSES
from tests.helpers import TINY_ARGS, run_json


def test_train_json_lines_and_checkpoint(tmp_path, capsys):
    out = tmp_path / "t.safetensors"
    code, lines = run_json(capsys, ["train", *TINY_ARGS, "--epochs", "2", "--json", "--out", str(out)])
    assert code == 0
    epochs, summary = lines[:-1], lines[-1]
    assert [e["epoch"] for e in epochs] == [1, 2]
    for e in epochs:
        assert {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "elapsed_s"} <= set(e)
        assert 10 < e["test_acc"] <= 100  # percent, not a fraction
    assert summary["summary"] is True and summary["checkpoint"] == str(out) and out.exists()
    assert summary["test_acc"] == pytest.approx(epochs[-1]["test_acc"])
    from fmnist.store.checkpoints import load

    meta = load(out).meta
    assert meta["command"].startswith("python -m fmnist train --hidden 32")
    assert [h["epoch"] for h in meta["history"]] == [1, 2]


def test_train_prints_a_line_per_epoch(tmp_path, capsys):
    assert main(["train", *TINY_ARGS, "--out", str(tmp_path / "a.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "Epoch  1/1" in out and "test acc" in out and "Test accuracy" in out


def test_evaluate_json(tiny_checkpoint, capsys):
    code, [res] = run_json(capsys, ["evaluate", str(tiny_checkpoint), "--json", "--device", "cpu"])
    assert code == 0
    assert 70 < res["accuracy"] < 100 and len(res["per_class"]) == 10
    cm = np.array(res["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10_000
    assert res["accuracy"] == pytest.approx(100 * np.trace(cm) / 10_000)


def test_predict_good_and_bad_files(tiny_checkpoint, dataset, tmp_path, capsys):
    good = tmp_path / "item.png"
    Image.fromarray(dataset.test_images[1].numpy()).resize((112, 112)).save(good)
    bad = tmp_path / "bad.png"
    bad.write_text("<html>not an image</html>")
    missing = tmp_path / "missing.png"
    code, lines = run_json(capsys, ["predict", str(tiny_checkpoint), str(good), str(bad), str(missing), "--json"])
    assert code == 1  # one result or error per file, exit 1 because some failed
    assert [line["file"] for line in lines] == [str(good), str(bad), str(missing)]
    assert lines[0]["label"] in CLASSES and lines[0]["label_index"] == CLASSES.index(lines[0]["label"])
    assert len(lines[0]["probabilities"]) == 10 and sum(lines[0]["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert "bad.png" in lines[1]["error"] and "missing.png" in lines[2]["error"]
    code, _ = run_json(capsys, ["predict", str(tiny_checkpoint), str(good), "--json"])
    assert code == 0


def test_data_command(capsys):
    code, [info] = run_json(capsys, ["data", "--json"])
    assert code == 0 and info["train"] == 60_000 and info["test"] == 10_000


@pytest.mark.parametrize("argv,needle", [
    (["train", "--lr", "0"], "lr: learning rate"),
    (["train", "--hidden", "0,5"], "hidden:"),
    (["train", "--hidden", "8,8,8,8,8,8,8"], "1 to 6 hidden layers"),
    (["train", "--hidden", "a,b"], "whole numbers"),
    (["train", "--optimizer", "rmsprop"], "invalid choice"),
    (["train", "--epochs", "0"], "epochs"),
    (["train", "--batch-size", "70000"], "batch size"),
    (["train", "--batch-norm", "--batch-size", "1"], "batch norm needs at least 2 images"),
    (["train", "--lr", "nan"], "learning rate"),
    (["train", "--out", "x.pt"], "--out must end in .safetensors"),
    (["bench", "--steps", "0"], "--steps"),
    (["train", "--preset", "seed", "--precision", "bf16"], "reproduces the notebook in fp32"),
    (["train", "--preset", "best", "--precision", "fp16"], "invalid choice"),
    (["train", "--ema", "1.5"], "ema:"),
])
def test_bad_arguments_exit_2_with_one_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert needle in err and err.strip().splitlines()[-1].startswith("python -m fmnist")


def test_module_entry_point_reports_usage_errors():
    proc = subprocess.run([sys.executable, "-m", "fmnist", "train", "--lr", "-1"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "lr: learning rate" in proc.stderr and "Traceback" not in proc.stderr


def test_cuda_without_cuda_exits_2(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit) as exc:
        main(["train", "--device", "cuda"])
    assert exc.value.code == 2 and "CUDA" in capsys.readouterr().err


def test_evaluate_bad_checkpoint_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    assert main(["evaluate", str(bad)]) == 1
    assert "bad.safetensors: not a readable safetensors checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", ["train", "evaluate", "predict", "export", "bench", "data"])
def test_help_on_each_command(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0 and "usage: python -m fmnist " + cmd in capsys.readouterr().out


def test_seed_preset_prints_the_notebooks_eval_mode_training_accuracy(tmp_path, capsys):
    code, lines = run_json(capsys, ["train", "--preset", "seed", "--hidden", "32", "--epochs", "1", "--json",
                                    "--out", str(tmp_path / "s.safetensors")])
    assert code == 0 and 50 < lines[0]["train_eval_acc"] <= 100 and lines[0]["train_eval_loss"] > 0


def interrupt_after(monkeypatch, kind: str) -> None:
    """The trainer as Ctrl-C leaves it: KeyboardInterrupt as soon as the CLI has handled its first `kind` event."""
    from fmnist.training import loop

    real = loop.train

    def train(*args, **kwargs):
        events = real(*args, **kwargs)
        try:
            for ev in events:
                yield ev
                if ev.kind == kind:
                    raise KeyboardInterrupt
        finally:
            events.close()

    monkeypatch.setattr(loop, "train", train)


def test_ctrl_c_before_the_first_epoch_ends_writes_no_checkpoint_and_says_so(tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.safetensors"
    interrupt_after(monkeypatch, "step")
    code, lines = run_json(capsys, ["train", *TINY_ARGS, "--epochs", "2", "--json", "--out", str(out)])
    assert code == 130
    assert lines[-1] == {"interrupted": True, "epochs": 0, "checkpoint": None, "recover": None}
    assert list(tmp_path.iterdir()) == []  # no checkpoint, nothing to recover

    assert main(["train", *TINY_ARGS, "--epochs", "2", "--out", str(out)]) == 130
    assert "Interrupted before the first epoch ended: the run is discarded, no checkpoint written." in \
        capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_after_an_epoch_writes_no_checkpoint_and_the_recovery_file_finishes_the_run(tmp_path, capsys,
                                                                                         monkeypatch):
    out = tmp_path / "x.safetensors"
    interrupt_after(monkeypatch, "epoch")
    code, lines = run_json(capsys, ["train", *TINY_ARGS, "--epochs", "2", "--json", "--out", str(out)])
    assert code == 130 and not out.exists()  # --out (often the shipped default) is never replaced half-trained
    assert [line.get("epoch") for line in lines[:-1]] == [1]
    stop = lines[-1]
    assert (stop["interrupted"], stop["epochs"], stop["checkpoint"]) == (True, 1, None)
    assert Path(stop["recover"]).is_file()

    monkeypatch.undo()
    code, lines = run_json(capsys, ["train", "--recover", stop["recover"], "--json", "--out", str(out)])
    assert code == 0 and lines[-1]["checkpoint"] == str(out)
    from fmnist.store.checkpoints import load

    assert [h["epoch"] for h in load(out).meta["history"]] == [1, 2]
