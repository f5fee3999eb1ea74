"""A CNN out of fmnist (#35): the readable script's nn.Conv2d model takes the checkpoint's weights and gives its logits,
and ONNX (under onnxruntime) and torch.export agree with PyTorch and with `evaluate` on all 10,000 test images."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from fmnist.cli.main import main
from fmnist.data.dataset import normalize
from fmnist.inspect.evaluate import evaluate
from fmnist.store import checkpoints
from tests.helpers import RUFF, TINY_CNN, export, load_script, train_to_done

CONFIG = TINY_CNN.replace(batch_norm=True, dropout=0.1, head="gap", conv=(4, 8), hidden=(), pool="avg", kernel=5)


@pytest.fixture(scope="module")
def cnn_ckpt(dataset, tmp_path_factory):
    result = train_to_done(CONFIG, dataset)[1]
    meta = checkpoints.run_meta(result, "tests", owner=checkpoints.MACHINE_OWNER)
    return checkpoints.save(tmp_path_factory.mktemp("cnn") / "cnn.safetensors", result.model, meta)


@pytest.fixture(scope="module")
def expected(cnn_ckpt, dataset):
    model = checkpoints.load(cnn_ckpt).model()
    with torch.no_grad():
        logits = model(normalize(dataset.test_images))
    return torch.softmax(logits, 1).numpy()


def test_the_script_builds_the_cnn_that_takes_the_checkpoint_s_weights(capsys, tmp_path, cnn_ckpt, expected, dataset):
    script, weights = export(capsys, cnn_ckpt, "script", tmp_path / "cnn.py")
    text = script.read_text()
    assert "class CNN(nn.Module)" in text and "nn.Conv2d(4, 8, 5, padding=2, bias=False)" in text
    assert "nn.AdaptiveAvgPool2d(1)" in text and "convolutional network" in text
    assert subprocess.run([str(RUFF), "check", "--no-cache", "--isolated", "--line-length", "120", str(script)],
                          capture_output=True).returncode == 0
    module = load_script(script)
    model = module.CNN()
    model.load_state_dict(torch.load(weights, weights_only=True))
    with torch.no_grad():
        probs = torch.softmax(model.eval()(normalize(dataset.test_images[:1000])), 1).numpy()
    assert np.abs(probs - expected[:1000]).max() <= 1e-5


def test_onnx_and_pt2_agree_with_pytorch_and_evaluate_on_all_test_images(capsys, tmp_path, cnn_ckpt, expected,
                                                                       dataset):
    import onnxruntime as ort

    pixels = (dataset.test_images.float() / 255)[:, None]
    [onnx_file] = export(capsys, cnn_ckpt, "onnx", tmp_path / "cnn.onnx")
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": pixels.numpy()})[0]
    [pt2] = export(capsys, cnn_ckpt, "pt2", tmp_path / "cnn.pt2")
    with torch.no_grad():
        program = torch.export.load(str(pt2)).module()(pixels).numpy()
    model = checkpoints.load(cnn_ckpt).model()
    accuracy = evaluate(model, normalize(dataset.test_images), dataset.test_labels).accuracy
    labels = dataset.test_labels.numpy()
    for name, probs in (("onnxruntime", got), ("torch.export", program)):
        diff = float(np.abs(probs - expected).max())
        print(f"{name} vs PyTorch, CNN, 10,000 test images: largest probability difference {diff:.2e}")
        assert diff <= 1e-5 and (probs.argmax(1) == expected.argmax(1)).all()
        assert 100 * float((probs.argmax(1) == labels).mean()) == pytest.approx(accuracy, abs=1e-9)


def test_evaluate_on_the_command_line_reads_a_cnn_checkpoint(capsys, cnn_ckpt):
    assert main(["evaluate", str(cnn_ckpt), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["accuracy"] == pytest.approx(checkpoints.load(cnn_ckpt).meta["metrics"]["test_acc"], abs=0.01)
