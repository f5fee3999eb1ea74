"""`python -m fmnist export`: the standalone script (run in fresh interpreters that cannot import fmnist, on the real
data), the ONNX model against PyTorch under onnxruntime, the torch.export file loaded without fmnist."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from fmnist import __version__
from fmnist.cli.main import main
from fmnist.config import QUICK, SEED, TrainConfig
from fmnist.data.dataset import CLASSES, find_files, normalize, torchvision_root
from fmnist.export.formats import export_bytes, to_script
from fmnist.export.script import render_script
from fmnist.model.mlp import MLP
from fmnist.store import checkpoints
from fmnist.training.recipe import lr_at, make_optimizer, shift_batch
from tests.helpers import ROOT, RUFF, export, load_script

SHIPPED = ROOT / "checkpoints" / "default.safetensors"
EPOCH_LINE = re.compile(r"^Epoch: (\d{3})/(\d{3}) \| Train Loss: [\d.]+ \| Train Acc\.: ([\d.]+)%.*"
                        r"\| Test Acc\.: ([\d.]+)% \| Time elapsed: [\d.]+ min$", re.M)
TEST_LINE = re.compile(r"^Test accuracy: ([\d.]+)% \| Test loss: [\d.]+$", re.M)

# Recipes that between them use every block of the generated script.
RECIPES = {
    "seed": TrainConfig(preset="seed"),
    "best": TrainConfig(hidden=(64, 32), dropout=0.3, batch_norm=True, optimizer="adamw", lr=2e-3, weight_decay=0.05,
                        schedule="onecycle", batch_size=256, epochs=3, label_smoothing=0.1, val_size=5000,
                        keep_best=True),
    "shifts": TrainConfig(hidden=(48,), activation="gelu", optimizer="momentum", schedule="cosine", augment=True,
                          seed=7),
    "adam": TrainConfig(hidden=(16, 16, 16), activation="leaky_relu", optimizer="adam", val_size=100, seed=0),
    "sigmoid": TrainConfig(hidden=(8,), activation="sigmoid", optimizer="adamw", lr=0.5),
}


def data_folder() -> Path:
    """The folder of the four IDX files as fmnist found them (Debian's plain .gz files here)."""
    return find_files()["train_images"].parent


def run_isolated(args: list[str], cwd: Path, timeout: float = 3600) -> subprocess.CompletedProcess:
    """A fresh interpreter that cannot import fmnist: -I leaves the current folder and PYTHONPATH off sys.path, and
    the folder is one with no fmnist in it. The timeout only guards against a hang: a busy shared machine can take
    ten times the minute or two these runs take on a quiet one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FMNIST"))}
    proc = subprocess.run([sys.executable, "-I", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def tiny_ckpt(checkpoint_dir) -> Path:
    return checkpoint_dir / "default.safetensors"


def test_script_from_a_small_checkpoint_trains_an_epoch_in_a_fresh_interpreter(capsys, tmp_path, tiny_ckpt,
                                                                                 tiny_result):
    script, weights = export(capsys, tiny_ckpt, "script", tmp_path / "tiny.py")
    assert weights == tmp_path / "tiny.pt" and weights.is_file()
    text = script.read_text()
    assert text.startswith('# Exported by fmnist') and '"default"' in text.splitlines()[0]
    assert "python -m fmnist train --hidden 32 --optimizer adam --lr 0.003 --batch-size 256 --epochs 1" in text

    proc = run_isolated([script.name, "--epochs", "1", "--data", str(data_folder()), "--save", "again.pt"], tmp_path)
    epochs = EPOCH_LINE.findall(proc.stdout)
    assert [(e[0], e[1]) for e in epochs] == [("001", "001")], proc.stdout
    train_acc, test_acc = float(epochs[0][2]), float(epochs[0][3])
    print(f"tiny checkpoint, 1 epoch: fmnist train/test {tiny_result.history[0]['train_acc']:.2f}/"
          f"{tiny_result.test_acc:.2f}%, exported script {train_acc:.2f}/{test_acc:.2f}%")
    # The same recipe, seed and batches as fmnist's trainer: the same epoch, to float rounding.
    assert train_acc == pytest.approx(tiny_result.history[0]["train_acc"], abs=0.3)
    assert test_acc == pytest.approx(tiny_result.test_acc, abs=0.3)
    assert float(TEST_LINE.search(proc.stdout)[1]) == test_acc
    saved = torch.load(tmp_path / "again.pt", weights_only=True)
    assert set(saved) == set(torch.load(weights, weights_only=True))


@pytest.mark.parametrize("which", ["tiny", "shipped"])
def test_weights_give_the_checkpoints_own_test_accuracy_with_torchvisions_loader(capsys, tmp_path, tiny_ckpt, which):
    ckpt = tiny_ckpt if which == "tiny" else SHIPPED
    script, weights = export(capsys, ckpt, "script", tmp_path)
    assert script.name == "default.py" and weights.name == "default.pt"  # a folder as --out: the checkpoint's name
    # torchvision's own layout (ROOT/FashionMNIST/raw, extracted files): the script hands it to torchvision.
    tv_root = torchvision_root(find_files(), tmp_path / "tv")
    proc = run_isolated([script.name, "--weights", weights.name, "--data", str(tv_root)], tmp_path)
    assert not EPOCH_LINE.search(proc.stdout)  # evaluated, not trained
    expected = checkpoints.load(ckpt).meta["metrics"]["test_acc"]
    assert float(TEST_LINE.search(proc.stdout)[1]) == pytest.approx(expected, abs=0.01)


def test_seed_recipe_script_matches_fmnist_train_for_two_epochs(capsys, tmp_path):
    # The seed preset's notebook semantics (drop_last, the evaluation passes' RNG draws before epoch 2's shuffle, the
    # eval-mode training accuracy) with a 128-wide layer instead of 1024-128-64: the same batches and steps, in a
    # fifth of the time (the width is the model's, not the loop's).
    out = tmp_path / "seed.safetensors"
    args = ["--preset", "seed", "--hidden", "128", "--epochs", "2", "--device", "cpu"]
    assert main(["train", *args, "--json", "--out", str(out)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    fmnist_acc = lines[-1]["test_acc"]
    script, _ = export(capsys, out, "script", tmp_path / "seed.py")
    text = script.read_text()
    assert "python -m fmnist train --preset seed --hidden 128 --epochs 2 --device cpu" in text
    assert "drop_last=True" in text

    proc = run_isolated([script.name, "--data", str(data_folder()), "--device", "cpu"], tmp_path)
    epochs = EPOCH_LINE.findall(proc.stdout)
    assert [e[0] for e in epochs] == ["001", "002"], proc.stdout
    script_acc = float(TEST_LINE.search(proc.stdout)[1])
    print(f"seed recipe, 128 wide, 2 epochs on CPU: fmnist {fmnist_acc:.2f}%, exported script {script_acc:.2f}%")
    assert abs(script_acc - fmnist_acc) <= 0.1  # the same batches and weights


@pytest.mark.parametrize("name", list(RECIPES))
def test_script_reproduces_each_part_of_the_recipe(tmp_path, name, dataset):
    config = RECIPES[name]
    path = tmp_path / f"{name}.py"
    path.write_text(render_script({"command": "tests"}, config, name, path.name, f"{name}.pt"))
    mod = load_script(path)
    assert (mod.RANDOM_SEED, mod.BATCH_SIZE, mod.NUM_EPOCHS, mod.LEARNING_RATE) == \
           (config.seed, config.batch_size, config.epochs, config.lr)
    assert getattr(mod, "LABEL_SMOOTHING", 0.0) == config.label_smoothing
    assert getattr(mod, "VALIDATION_SIZE", 0) == config.val_size

    # Same seed, same layers in the same order: the same initial weights.
    torch.manual_seed(config.seed)
    ours = MLP(config).state_dict()
    torch.manual_seed(config.seed)
    theirs = mod.MLP().state_dict()
    assert list(theirs) == [f"layers.{k}" for k in ours]
    assert all(torch.equal(theirs[f"layers.{k}"], v) for k, v in ours.items())

    total = 1000
    if config.schedule == "constant":
        assert not hasattr(mod, "learning_rate")
    else:
        for step in (0, 1, 150, 299, 300, 301, 700, 998, 999):
            assert mod.learning_rate(step, total) == pytest.approx(lr_at(step, total, config.lr, config.schedule))

    # Optimizer: the same class, hyperparameters and weight decay for each parameter.
    model = mod.MLP()
    theirs_opt = mod.make_optimizer(model)
    ours_opt = make_optimizer(config, model, torch.device("cpu"))
    assert type(theirs_opt) is type(ours_opt)
    keys = ("lr", "momentum", "nesterov", "betas", "eps", "amsgrad")

    def per_param(opt):
        return {id(p): (g["weight_decay"], *(g.get(k) for k in keys)) for g in opt.param_groups for p in g["params"]}

    assert per_param(theirs_opt) == per_param(ours_opt)

    if config.augment:
        x = normalize(dataset.train_images[:64])
        torch.manual_seed(5)
        theirs_shift = mod.shift_images(x.view(64, 1, 28, 28))
        torch.manual_seed(5)
        assert torch.equal(theirs_shift.view(64, 784), shift_batch(x))
    else:
        assert not hasattr(mod, "shift_images")


def test_the_header_names_what_the_file_leaves_out_of_the_recipe():
    config = QUICK.replace(flip=True, warp=True, ema=0.999)
    script = render_script({"history": []}, config, "quick", "quick.py", "quick.pt")
    recipe = " ".join(script.split('"""')[1].split())  # the docstring, unwrapped
    assert ("Not in this file, though fmnist trained with them: left-right mirrors, random warps (sub-pixel shifts and "
            "zooms), a moving average of the weights, bf16 autocast; a run of this file is the recipe without them."
            ) in recipe
    seed = render_script({"history": []}, SEED, "seed", "seed.py", "seed.pt")
    assert "Not in this file" not in seed


def test_scripts_plain_folder_reader_gives_fmnists_tensors(tmp_path, dataset):
    path = tmp_path / "s.py"
    path.write_text(render_script({}, RECIPES["seed"], "s", path.name, "s.pt"))
    mod = load_script(path)
    test = mod.IdxFashionMNIST(data_folder(), False, mod.custom_transform)
    assert len(test) == 10_000
    for i in (0, 1, 9999):
        image, label = test[i]
        assert image.shape == (1, 28, 28) and label == int(dataset.test_labels[i])
        assert torch.equal(image.view(784), normalize(dataset.test_images[i]))


@pytest.mark.parametrize("name", list(RECIPES))
def test_generated_script_is_ruff_clean(tmp_path, name):
    path = tmp_path / f"{name}.py"
    path.write_text(render_script({"command": "python -m fmnist train " + "--hidden 1024,1024 " * 12}, RECIPES[name],
                                  name, path.name, f"{name}.pt"))
    # The repo's rules with none of its config (a user's file lives elsewhere), and ruff's defaults.
    for args in (["--select", "E,F,W,I,B,UP", "--line-length", "120"], []):
        proc = subprocess.run([str(RUFF), "check", "--isolated", *args, str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "shipped.onnx"
    assert main(["export", str(SHIPPED), "--format", "onnx", "--out", str(out)]) == 0
    return out


def pytorch_probabilities(ckpt_path: Path, images: torch.Tensor) -> np.ndarray:
    model = checkpoints.load(ckpt_path).model()
    with torch.no_grad():
        return torch.softmax(model(normalize(images)), 1).numpy()


def test_onnx_agrees_with_pytorch_on_1000_test_images(onnx_file, dataset):
    import onnx
    import onnxruntime as ort

    images = dataset.test_images[:1000]
    expected = pytorch_probabilities(SHIPPED, images)
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    [inp], [out] = session.get_inputs(), session.get_outputs()
    assert (inp.name, out.name) == ("image", "probabilities")
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [1, 28, 28]  # a dynamic batch
    pixels = (images.float() / 255).numpy()[:, None]  # as an image file gives them: [0, 1], no normalisation
    got = session.run(None, {"image": pixels})[0]
    assert got.shape == (1000, 10)
    diff = float(np.abs(got - expected).max())
    print(f"onnxruntime vs PyTorch on 1,000 test images: largest probability difference {diff:.2e}")
    assert diff <= 1e-5
    assert np.array_equal(got.argmax(1), expected.argmax(1))
    one = session.run(None, {"image": pixels[:1]})[0]  # any batch size, one included
    assert np.abs(one - expected[:1]).max() <= 1e-5

    props = {p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}
    assert json.loads(props["classes"]) == list(CLASSES)
    assert props["fmnist_version"] == __version__ and props["checkpoint"] == "default"


def test_pt2_loads_and_predicts_in_an_interpreter_without_fmnist(capsys, tmp_path, dataset):
    [pt2] = export(capsys, SHIPPED, "pt2", tmp_path / "model.pt2")
    images = dataset.test_images[:1000]
    torch.save((images.float() / 255)[:, None].clone(), tmp_path / "images.pt")
    code = textwrap.dedent("""
        import importlib.util, json, sys
        import torch
        assert importlib.util.find_spec("fmnist") is None, "fmnist is importable here"
        extra = {"fmnist.json": ""}
        program = torch.export.load("model.pt2", extra_files=extra)
        images = torch.load("images.pt", weights_only=True)
        with torch.no_grad():
            probs = program.module()(images)
            one = program.module()(images[:1])
        torch.save({"probs": probs, "one": one}, "out.pt")
        assert "fmnist" not in sys.modules
        print(json.dumps(json.loads(json.loads(extra["fmnist.json"])["classes"])))
    """)
    proc = run_isolated(["-c", code], tmp_path)
    assert json.loads(proc.stdout.strip()) == list(CLASSES)  # the metadata travels in the file
    out = torch.load(tmp_path / "out.pt", weights_only=True)
    expected = pytorch_probabilities(SHIPPED, images)
    assert np.array_equal(out["probs"].numpy().argmax(1), expected.argmax(1))
    assert np.abs(out["probs"].numpy() - expected).max() <= 1e-5
    assert np.abs(out["one"].numpy() - expected[:1]).max() <= 1e-5


@pytest.mark.parametrize("args, message", [
    (["--format", "onnx", "--out", "x.py"], "--out for --format onnx must end in .onnx"),
    (["--format", "script", "--out", "no/such/folder/x.py"], "the folder 'no/such/folder' does not exist"),
    (["--format", "tflite"], "invalid choice: 'tflite'"),
    ([], "the following arguments are required: --format"),
])
def test_bad_arguments_exit_2_with_one_line(capsys, tmp_path, tiny_ckpt, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["export", str(tiny_ckpt), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("python -m fmnist export: error:")
    assert not list(tmp_path.iterdir())  # nothing written


def test_unreadable_checkpoint_gives_the_same_error_as_evaluate(capsys, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00garbage")
    assert main(["evaluate", str(bad)]) == 1
    evaluate_err = capsys.readouterr().err
    assert main(["export", str(bad), "--format", "script", "--out", str(tmp_path)]) == 1
    export_err = capsys.readouterr().err
    assert export_err == evaluate_err and "not a readable safetensors checkpoint" in export_err
    assert main(["export", str(tmp_path / "missing.safetensors"), "--format", "onnx", "--out", str(tmp_path)]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.safetensors"]


def test_a_failed_write_is_one_clear_line_and_leaves_nothing(capsys, tmp_path, tiny_ckpt):
    (tmp_path / "default.py").mkdir()  # a folder where the script would go: putting the file there fails
    assert main(["export", str(tiny_ckpt), "--format", "script", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: could not write {tmp_path / 'default.py'}: Is a directory"]
    assert [p.name for p in tmp_path.iterdir()] == ["default.py"]  # no temporary file, no weights without a script


def test_downloads_are_made_once_per_file_version(tmp_path, tiny_ckpt):
    path = tmp_path / "m.safetensors"
    path.write_bytes(tiny_ckpt.read_bytes())
    first = export_bytes(path, "script")
    assert export_bytes(path, "script") is first  # cached
    assert first.decode() == to_script(checkpoints.load(path))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # the file replaced
    again = export_bytes(path, "script")
    assert again == first and again is not first
    weights = torch.load(io.BytesIO(export_bytes(path, "weights")), weights_only=True)
    assert set(weights) == {f"layers.{k}" for k in checkpoints.load(path).state}


def test_a_challenge_runs_script_holds_out_the_challenges_images(tmp_path):
    """A run of a class challenge is scored on the challenge's split (val_seed), not on its own seed's: the exported
    script draws the same hold-out."""
    from fmnist.training.recipe import split_validation

    for config, split_seed in ((QUICK.replace(val_size=5000, seed=5, val_seed=37), 37),
                               (QUICK.replace(val_size=5000, seed=5), 5)):
        path = tmp_path / f"split{split_seed}.py"
        path.write_text(render_script({"command": "tests"}, config, "split", path.name, "split.pt"))
        text = path.read_text()
        mod = load_script(path)
        assert mod.VALIDATION_SEED == split_seed and "manual_seed(VALIDATION_SEED + 1)" in text
        order = torch.randperm(60_000, generator=torch.Generator().manual_seed(mod.VALIDATION_SEED + 1))
        assert torch.equal(order[:5000], split_validation(60_000, 5000, split_seed)[1])
