"""How long a sweep takes with 1 and with 2 trials at a time, as docs/benchmarks.md records it.

    .venv/bin/python tests/perf/sweep_speed.py [--trials 12] [--epochs 3] [--json]

A standalone script, not a test. Each setting gets a fresh SQLite study in a temporary folder: "1 at a time" is one
`python -m fmnist sweep --trials 12` process, "2 at a time" is the same command twice at once with `--trials 6` each
(the several-machines recipe on one machine; the two processes share the study). Every trial trains the tiny model
(784-32-10 or 784-64-10 or 784-64-32-10, Adam, batch 512, 2,000 validation images) with a learning rate the TPE
sampler picks. Prints wall time, the processes' CPU time, trials by state and the load average before and after,
which matters: on a shared 2-core machine the figures are those of its load at the time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ["--param", "lr=loguniform:1e-4:1e-1", "--param", "hidden=choice:32|64|64,32", "--optimizer", "adam",
          "--batch-size", "512", "--val-size", "2000", "--device", "cpu"]


def run(processes: int, trials: int, epochs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="fmnist-sweep-speed-") as tmp:
        env = {**os.environ, "FMNIST_CHECKPOINT_DIR": str(Path(tmp) / "checkpoints")}
        cmd = [sys.executable, "-m", "fmnist", "sweep", "--study", "speed", "--trials", str(trials // processes),
               "--epochs", str(epochs), "--storage", f"sqlite:///{tmp}/studies.db", "--json", *PARAMS]
        load = os.getloadavg()[0]
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(processes)]
        outs = [p.communicate()[0] for p in procs]
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows = [json.loads(line) for out in outs for line in out.splitlines()]
        trials_done = [r for r in rows if "trial" in r]
        states: dict[str, int] = {}
        for r in trials_done:
            states[r["state"]] = states.get(r["state"], 0) + 1
        best = max((r["val_acc"] for r in trials_done if r["state"] == "COMPLETE"), default=None)
        return {"at_once": processes, "trials": len(trials_done), "epochs": epochs, "wall_s": round(wall, 1),
                "cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
                "states": states, "best_val_acc": best, "load_before": round(load, 1),
                "load_after": round(os.getloadavg()[0], 1), "exit_codes": [p.returncode for p in procs]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPUs; {args.trials} trials of {args.epochs} epochs each", flush=True)
    for processes in (1, 2):
        r = run(processes, args.trials, args.epochs)
        print(json.dumps(r) if args.json else
              f"{processes} at a time: {r['trials']} trials {r['states']} in {r['wall_s']:.0f} s wall, "
              f"{r['cpu_s']:.0f} s CPU; best val acc {r['best_val_acc']}; load average {r['load_before']} -> "
              f"{r['load_after']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
