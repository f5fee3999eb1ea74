"""The CUDA-graph capture's fallback, on the CPU: a test double of the step whose capture runs the real warm-up, then
fails as a capture can (the real capture, on CUDA, is in tests/test_gpu.py)."""

import os
import re
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
import torch

from fmnist.data.dataset import device_tensors
from fmnist.model.mlp import MLP
from fmnist.training.recipe import make_optimizer, set_lr
from fmnist.training.step import Step
from tests.helpers import TINY

ROOT = Path(__file__).resolve().parent.parent
# Everything the warm-up touches: batch-norm statistics, dropout masks (global generator), shifts (the step's
# own generator), momentum buffers.
CONFIG = TINY.replace(batch_norm=True, dropout=0.2, augment=True, optimizer="momentum", lr=0.05, batch_size=64)


class FailingCapture(Step):
    """The real warm-up steps, then the failure a capture can raise; records what the warm-up changed."""

    warm_up_first = True

    def _record(self, idx):
        if self.warm_up_first:
            before = [t.clone() for t in self.model.state_dict().values()]
            self._warm_up(idx)
            self.changed = [not torch.equal(a, b) for a, b in zip(before, self.model.state_dict().values())]
        raise RuntimeError("operation not permitted when stream is capturing (simulated)")


def make_step(cls, config, dataset, capturable):
    x, y, _, _ = device_tensors(dataset, torch.device("cpu"))
    torch.manual_seed(config.seed)
    model = MLP(config).train()
    opt = make_optimizer(config, model, torch.device("cpu"), capturable=capturable)
    return cls(model, opt, config, x, y, "cpu")


def run(step, batches, lr=None):
    losses = []
    for idx in batches:
        if lr is not None:
            set_lr(step.opt, lr)
        step(idx)
        losses.append(step.take()[0].item())
    return losses


def batches(n, bs=64, seed=0):
    perm = torch.randperm(60_000, generator=torch.Generator().manual_seed(seed))
    return [perm[i * bs:(i + 1) * bs] for i in range(n)]


def test_failed_capture_restores_the_start_and_trains_as_eager(dataset):
    eager = make_step(Step, CONFIG, dataset, capturable=False)
    start = {k: v.clone() for k, v in eager.model.state_dict().items()}
    expected = run(eager, batches(20))

    step = make_step(FailingCapture, CONFIG, dataset, capturable=True)
    captured_opt = step.opt
    note = step.try_capture(CONFIG.batch_size)

    assert note.startswith("CUDA graph capture failed (RuntimeError: operation not permitted") and "eagerly" in note
    # The warm-up did train (weights, batch-norm statistics and its step counter moved) ...
    assert all(step.changed), step.changed
    # ... and all of it is undone: weights, statistics, running sums, gradients; the graph is dropped.
    state = step.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in start.items())
    assert step.loss_sum.item() == 0 and step.correct.item() == 0 and step.seen == 0
    assert all(p.grad is None for p in step.model.parameters())
    assert step.graph is None and step.static_idx is None
    # The optimizer is rebuilt for eager steps: no momentum buffers from the warm-up, a plain float rate.
    assert step.opt is not captured_opt and not step.opt.state
    assert all(isinstance(g["lr"], float) for g in step.opt.param_groups)
    assert isinstance(captured_opt.param_groups[0]["lr"], torch.Tensor)

    # Same dropout masks and shifts (both generators put back), same losses, bit for bit.
    assert run(step, batches(20)) == expected
    assert all(torch.equal(a, b) for a, b in zip(step.model.state_dict().values(), eager.model.state_dict().values()))


def test_a_failed_capture_of_adam_trains_without_capturable(dataset):
    config = CONFIG.replace(optimizer="adamw", lr=3e-3, weight_decay=0.01)
    eager = make_step(Step, config, dataset, capturable=False)
    expected = run(eager, batches(5), lr=1e-3)

    step = make_step(FailingCapture, config, dataset, capturable=True)
    step.warm_up_first = False  # a capturable Adam cannot step on the CPU: the capture fails before any warm-up
    assert all(g["capturable"] for g in step.opt.param_groups)
    assert step.try_capture(config.batch_size)
    assert not any(g["capturable"] for g in step.opt.param_groups)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run(step, batches(5), lr=1e-3) == expected
    assert not [w for w in caught if "capturable" in str(w.message)]


def test_captures_in_one_process_happen_one_at_a_time(dataset):
    underway, most = [0], [0]
    lock = threading.Lock()

    class SlowCapture(Step):
        def _record(self, idx):
            with lock:
                underway[0] += 1
                most[0] = max(most[0], underway[0])
            time.sleep(0.2)
            with lock:
                underway[0] -= 1
            raise RuntimeError("simulated")

    steps = [make_step(SlowCapture, TINY, dataset, capturable=False) for _ in range(3)]
    threads = [threading.Thread(target=s.try_capture, args=(64,)) for s in steps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most[0] == 1


def test_a_finished_run_keeps_no_gradients(tiny_result):
    # On CUDA the gradients live in the graph's memory pool, which the kept model would hold (tests/test_gpu.py).
    assert all(p.grad is None for p in tiny_result.model.parameters())


def test_shifts_come_from_the_runs_own_generator(dataset):
    """Another draw from the global generator (another run's, a warm-up's) leaves a run's shifts alone."""
    config = CONFIG.replace(dropout=0.0)
    first = run(make_step(Step, config, dataset, capturable=False), batches(3))
    b = make_step(Step, config, dataset, capturable=False)
    torch.rand(1000)
    assert run(b, batches(3)) == first


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the gpu tests run")
def test_gpu_tests_skip_cleanly_without_cuda_even_under_ci():
    # CI=true turns a skipped browser test into a failure (tests/browser/conftest.py); a missing GPU is not one.
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "-rs"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "CI": "true"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert "skipped" in summary and "passed" not in summary and "failed" not in summary, summary
    assert "needs a CUDA GPU" in proc.stdout


# What the lent GPU machines' PyTorch image lacks of requirements*.txt (it has torch, numpy, safetensors, pytest).
NOT_ON_A_GPU_IMAGE = ("streamlit", "streamlit_drawable_canvas", "plotly", "optuna", "babel", "psycopg")


def test_the_gpu_check_runs_with_a_ready_python_without_the_app_s_packages(tmp_path):
    # `make gpu-check GPU_PYTHON=python3` is for a GPU machine without a network: it must install nothing, and its
    # tests must load where Streamlit and the rest of the app's packages are missing.
    plan = subprocess.run(["make", "-n", "gpu-check", "GPU_PYTHON=python3"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=True).stdout
    assert "pip" not in plan and ".venv" not in plan, plan
    pytest_line = next(line for line in plan.splitlines() if " -m pytest " in line)
    assert pytest_line.startswith("python3 -m pytest tests/test_gpu.py"), pytest_line
    (tmp_path / "sitecustomize.py").write_text(
        "import importlib.abc, sys\n"
        f"MISSING = {NOT_ON_A_GPU_IMAGE!r}\n"
        "class Missing(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in MISSING:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Missing())\n")
    args = pytest_line.split()[1:] + ["--collect-only", "-q", "-p", "no:cacheprovider"]
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    collected = re.search(r"(\d+) tests? collected", proc.stdout)
    assert collected and int(collected[1]) > 0, proc.stdout
