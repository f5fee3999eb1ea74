"""The memory guard (fmnist/training/memory.py): its estimate against the measured peak of real runs, and the
refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist.cli.main import main
from fmnist.config import SEED, TrainConfig
from fmnist.training.memory import available, estimate, memory_problem

ROOT = Path(__file__).resolve().parent.parent

# A real run in a fresh process: the peak resident memory it adds to a process that has imported torch (warmed up)
# is the high-water mark after the run less the one before the dataset was loaded. The mark is VmHWM, the process's
# own: ru_maxrss is not, since Linux carries it over from the parent across fork and exec, so late in a test session
# it would be pytest's (over a gigabyte), and a run's peak would read as nothing. The run loads the real dataset (its
# test set cut to 1,000 images so the wide model's evaluation stays cheap) and stops after two steps; stopping still
# evaluates the model once, as every run does at its end.
MEASURE = """
import json, sys
import torch
from fmnist.config import TrainConfig
from fmnist.data.dataset import Dataset, load_dataset
from fmnist.training.control import RunControl
from fmnist.training.loop import train
from fmnist.training.memory import estimate

cfg, n_test, steps = TrainConfig.from_dict(json.loads(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
m = torch.nn.Linear(8, 8)
torch.optim.Adam(m.parameters()).step()
m(torch.zeros(2, 8)).sum().backward()

def high_water():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

before = high_water()
ds = load_dataset()
ds = Dataset(ds.train_images, ds.train_labels, ds.test_images[:n_test].clone(), ds.test_labels[:n_test].clone(),
             ds.source)

class Steps(RunControl):
    n = 0

    def between_steps(self):
        self.n += 1
        if self.n > steps:
            self.stop()
        return 0.0

events = list(train(cfg, ds, Steps()))
assert events[-1].kind == "done", events[-1]
peak = high_water()
print(json.dumps({"measured": peak - before, "estimate": estimate(cfg, n_test=n_test).total}))
"""

SIZES = {  # three runs whose peaks are set by different parts
    "seed preset (the dataset)": SEED.replace(device="cpu"),
    "784-4096-4096-10 Adam (weights and optimizer state)": TrainConfig(hidden=(4096, 4096), optimizer="adam",
                                                                       batch_size=64, device="cpu"),
    "six 128-wide layers, batch 60,000 (activations)": TrainConfig(hidden=(128,) * 6, batch_size=60_000, device="cpu"),
}


@pytest.mark.parametrize("label", SIZES)
def test_the_estimate_is_within_a_factor_of_1_5_of_the_measured_peak(label):
    config = SIZES[label]
    proc = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(config.to_dict()), "1000", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    ratio = result["estimate"] / result["measured"]
    print(f"{label}: estimated {result['estimate'] / 1e6:.0f} MB, measured {result['measured'] / 1e6:.0f} MB "
          f"(ratio {ratio:.2f})")
    assert 1 / 1.5 <= ratio <= 1.5


THE_ISSUES_RUN = TrainConfig(hidden=(4096,) * 6, batch_size=60_000, dropout=0.5, batch_norm=True, optimizer="adam",
                             device="cpu")


def test_the_seed_preset_is_accepted_and_a_run_far_beyond_the_free_memory_refused():

    free = available("cpu")
    assert free and free > 1e8
    assert memory_problem(SEED.replace(device="cpu")) is None
    assert memory_problem(SEED.replace(device="cpu"), dataset_loaded=False) is None
    need = estimate(THE_ISSUES_RUN, dataset=False).total  # the app: the dataset is in memory already
    problem = memory_problem(THE_ISSUES_RUN, free=need // 3)
    assert problem == (f"this run needs about {need / 1e9:.1f} GB of memory; about {need // 3 / 1e9:.1f} GB are "
                       "free: use a smaller batch, or narrower or fewer layers")
    if need > free:  # on machines up to ~25 GB (this one: 24), against the memory really free now
        assert memory_problem(THE_ISSUES_RUN) is not None


def test_wide_layers_are_told_to_narrow_and_the_cli_refuses_with_exit_2(monkeypatch, capsys):
    wide = TrainConfig(hidden=(4096,) * 6, optimizer="adam", batch_size=64, device="cpu")
    assert memory_problem(wide, free=10**8).endswith(
        "free: use narrower or fewer layers, or a smaller batch, or plain SGD (no optimizer state)")
    monkeypatch.setenv("FMNIST_MAX_RUN_MB", "100")  # a server's bound on one run
    with pytest.raises(SystemExit) as exc:
        main(["train", "--hidden", "4096,4096,4096", "--optimizer", "adam", "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1
    assert "this run needs about 1.2 GB of memory; about 0.1 GB is free: use narrower" in err


def test_the_cli_refuses_a_run_beyond_the_address_space_limit_within_seconds(tmp_path):
    """`ulimit -v` (RLIMIT_AS) bounds the process however much memory the machine has free: a 3.5 GB run under a
    6 GB limit (of which Python and torch map about 3) is refused up front, exit 2, with the GB figures, where it used
    to train until the allocator failed."""
    import re
    import resource
    import time

    run = ["--hidden", "2048,2048", "--batch-size", "60000", "--epochs", "1", "--device", "cpu"]
    need = estimate(TrainConfig(hidden=(2048, 2048), batch_size=60_000, epochs=1, device="cpu")).total
    free = available("cpu")
    if free is None or free < need / 0.9 + 1e9:
        pytest.skip(f"this machine has {free} bytes free: the run would be refused without the limit too")
    limit = 6 * 1024**3

    def lowered():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    start = time.monotonic()
    env = {**os.environ, "FMNIST_CHECKPOINT_DIR": str(tmp_path)}  # were it to train, not into checkpoints/
    proc = subprocess.run([sys.executable, "-m", "fmnist", "train", *run], capture_output=True, text=True,
                          preexec_fn=lowered, timeout=120, env=env)
    took = time.monotonic() - start
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    [line] = proc.stderr.strip().splitlines()
    found = re.fullmatch(r"python -m fmnist train: error: this run needs about ([\d.]+) GB of memory; about ([\d.]+) "
                         r"GB (?:is|are) free: use a smaller batch, or narrower or fewer layers", line)
    assert found, line
    assert float(found[1]) == round(need / 1e9, 1) and float(found[2]) < limit / 1e9 - 1  # the limit less the mapped
    assert took < 20, took  # before any data is read (about 3 s on the 2-core reference machine)
