"""How many seeds solve XOR within 2,000 steps, by network, as docs/benchmarks.md records it.

    .venv/bin/python tests/perf/xor_seeds.py [--seeds 100] [--steps 2000]

A standalone script, not a test. Each row trains the Playground's XOR setup (400 points, half for training, batch
10, lr 0.03 unless the row says otherwise) once per seed and counts the runs that reach 95% training accuracy
("solved"), the runs the detector calls stuck, and the runs where the two disagree (there must be none). The last
rows try other learning rates and the plain Glorot initialisation (first-layer weights not divided by the plane's
extent) for two tanh units.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from fmnist.playground import EXTENT, SOLVED_ACC, Network, Setup, train  # noqa: E402

ROWS = [("tanh", (2,), 0.03), ("tanh", (3,), 0.03), ("tanh", (4,), 0.03),
        ("relu", (2,), 0.03), ("relu", (3,), 0.03), ("relu", (4,), 0.03),
        ("tanh", (2,), 0.01), ("tanh", (2,), 0.1), ("tanh", (2,), 0.3)]


def row(activation: str, hidden: tuple[int, ...], lr: float, seeds: int, steps: int) -> str:
    solved = stuck = disagree = 0
    tests = []
    for seed in range(seeds):
        *_, done = train(Setup(hidden=hidden, activation=activation, lr=lr, seed=seed), steps)
        ok = done.metrics.train_acc >= SOLVED_ACC
        solved += ok
        stuck += done.stuck
        disagree += ok == done.stuck
        tests.append(done.metrics.test_acc)
    return (f"| {len(hidden) and hidden[0]} {activation} | {lr:g} | {solved} | {stuck} | {disagree} | "
            f"{statistics.median(tests):.1f}% |")


SCALED_INIT = Network.init


def plain_glorot(cls, sizes, activation, rng):
    net = SCALED_INIT(sizes, activation, rng)
    net.weights[0] *= EXTENT  # undo the division by the plane's extent
    return net


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--steps", type=int, default=2000)
    args = p.parse_args()
    print("| units | lr | solved | said stuck | disagree | median test acc |")
    print("| --- | --- | --- | --- | --- | --- |")
    for activation, hidden, lr in ROWS:
        print(row(activation, hidden, lr, args.seeds, args.steps), flush=True)
    with mock.patch.object(Network, "init", classmethod(plain_glorot)):
        print(row("tanh", (2,), 0.03, args.seeds, args.steps).replace("| 0.03 |", "| 0.03, plain Glorot |"))


if __name__ == "__main__":
    main()
