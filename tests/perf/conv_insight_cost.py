"""What a CNN's filters, feature maps and block insight (#36) add to an epoch of the cnn preset, on this machine.

    PYTHONPATH=. .venv/bin/python tests/perf/conv_insight_cost.py [--repeats 2] [--threads N] [--steps N]

Times, in one process and interleaved so a busy shared machine slows both alike: an epoch's training steps of the cnn
preset as the trainer runs them (channels-last maps, bf16 where the CPU has it, batch 128: 469 steps, or --steps of
them scaled up to 469), and then the insight at the epoch's end, in three parts:

- new for a CNN in every run (CLI too): the health tracker's pass over the convolution blocks on 2,000 probe images
  (fmnist.inspect.conv.conv_insight), which gives the blocks' health rows and the channel inspector's data;
- new for a CNN in the app's runs: the kernels and the feature maps of 10 test images (conv.views), and the
  diagram's dense columns (network_insight, which reuses the tracker's blocks);
- there before (the app's runs): the 2-D projection and the histograms.

Prints one line per repeat and the range of the new parts' share of the epoch's steps.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from fmnist.config import CNN
from fmnist.data.dataset import device_tensors, load_dataset
from fmnist.inspect import conv
from fmnist.inspect.explain import hidden_features, pca_2d
from fmnist.inspect.health import PROBE_IMAGES, histograms, network_insight
from fmnist.model.mlp import MLP
from fmnist.training.recipe import bf16_problem, make_optimizer
from fmnist.training.step import Step


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def one_epoch(repeat: int, steps: int | None, x, y, x_test, y_test) -> dict:
    torch.manual_seed(repeat)
    device = torch.device("cpu")
    config = CNN.replace(device="cpu")
    if bf16_problem(device):
        config = config.replace(precision="fp32")
    model = MLP(config).to(memory_format=torch.channels_last)
    step = Step(model, make_optimizer(config, model, device), config, x, y, device)
    total = math.ceil(x.shape[0] / config.batch_size)
    timed = min(steps or total, total)
    perm = torch.randperm(x.shape[0])
    t = time.perf_counter()
    for i in range(timed):
        step(perm[i * config.batch_size:(i + 1) * config.batch_size])
    step.take()[0].item()
    train_s = (time.perf_counter() - t) * total / timed
    x_probe, y_probe = x_test[:PROBE_IMAGES], y_test[:PROBE_IMAGES]
    blocks: list[dict] = []
    every_run = _timed(lambda: blocks.extend(conv.conv_insight(model, x_probe, y_probe)))
    app = _timed(lambda: conv.views(model, x_probe, y_probe)) + _timed(
        lambda: network_insight(model, x_test, y_test, blocks))
    before = _timed(lambda: (pca_2d(hidden_features(model, x_probe)), histograms(model)))
    return {"train_s": train_s, "every_run_s": every_run, "app_s": app, "before_s": before, "steps": timed,
            "precision": config.precision}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    p.add_argument("--steps", type=int, default=0, help="time this many steps and scale to the epoch's 469")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, y, x_test, y_test = device_tensors(load_dataset(), torch.device("cpu"))
    shares = []
    for r in range(args.repeats):
        row = one_epoch(r, args.steps or None, x, y, x_test, y_test)
        new = row["every_run_s"] + row["app_s"]
        shares.append(100 * new / row["train_s"])
        print(f"epoch {r + 1} ({row['precision']}, {row['steps']} steps timed): training steps {row['train_s']:.1f} s; "
              f"new: conv blocks on the probe {row['every_run_s'] * 1000:.0f} ms + kernels, feature maps and diagram "
              f"{row['app_s'] * 1000:.0f} ms = {shares[-1]:.2f}% of the epoch; projection and histograms (there "
              f"before) {row['before_s'] * 1000:.0f} ms", flush=True)
    print(f"a CNN's new insight: {min(shares):.2f}-{max(shares):.2f}% of a cnn-preset epoch "
          f"({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
