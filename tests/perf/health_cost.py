"""What layer health (and the app's per-epoch network insight) adds to an epoch of the seed preset, on this machine.

    .venv/bin/python tests/perf/health_cost.py [--repeats 3] [--threads N]

Times, in one process and interleaved so a busy shared machine slows both alike: the 938 training steps of one
seed-preset epoch (784-1024-128-64-10, SGD, batch 64), the health tracker's extra work in that epoch (its last 50
steps' weight copies and norms, and the probe pass over 2,000 test images at the end), and the insight the app asks
for on top (histograms and the network diagram's data). Prints one line per repeat and the range.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from fmnist.config import SEED
from fmnist.data.dataset import device_tensors, load_dataset
from fmnist.inspect.health import WINDOW, HealthTracker, histograms, network_insight
from fmnist.model.mlp import MLP
from fmnist.training.recipe import make_optimizer
from fmnist.training.step import Step


def one_epoch(repeat: int, x, y, x_test, y_test) -> dict:
    torch.manual_seed(repeat)
    config = SEED.replace(device="cpu")
    model = MLP(config)
    opt = make_optimizer(config, model, torch.device("cpu"))
    step = Step(model, opt, config, x, y, torch.device("cpu"))
    steps = math.ceil(x.shape[0] / config.batch_size)
    tracker = HealthTracker(model, x_test, steps)
    perm = torch.randperm(x.shape[0])
    train_s = health_s = 0.0
    for i in range(steps):
        idx = perm[i * 64:(i + 1) * 64]
        t0 = time.perf_counter()
        tracker.before(i)
        t1 = time.perf_counter()
        step(idx)
        t2 = time.perf_counter()
        tracker.after(i)
        t3 = time.perf_counter()
        train_s += t2 - t1
        health_s += (t1 - t0) + (t3 - t2)
    step.take()[0].item()
    t = time.perf_counter()
    tracker.epoch_end()
    health_s += time.perf_counter() - t
    t = time.perf_counter()
    histograms(model)
    network_insight(model, x_test, y_test)
    insight_s = time.perf_counter() - t
    return {"train_s": train_s, "health_s": health_s, "insight_s": insight_s}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y, x_test, y_test = device_tensors(load_dataset(), torch.device("cpu"))
    rows = []
    for r in range(args.repeats):
        row = one_epoch(r, x, y, x_test, y_test)
        rows.append(row)
        print(f"epoch {r + 1}: training steps {row['train_s']:.2f} s, health {row['health_s'] * 1000:.0f} ms "
              f"({100 * row['health_s'] / row['train_s']:.2f}%, {WINDOW} watched steps + probe), app insight "
              f"{row['insight_s'] * 1000:.0f} ms ({100 * row['insight_s'] / row['train_s']:.2f}%)", flush=True)
    share = [100 * r["health_s"] / r["train_s"] for r in rows]
    extra = [100 * r["insight_s"] / r["train_s"] for r in rows]
    print(f"health: {min(share):.2f}-{max(share):.2f}% of a seed-preset epoch; app insight on top: "
          f"{min(extra):.2f}-{max(extra):.2f}%")


if __name__ == "__main__":
    main()
