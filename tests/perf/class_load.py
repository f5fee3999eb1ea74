"""A class watching one board: N browser contexts (30 by default) keep the Class page of one challenge open while two
runs of that challenge train, and the server's health URL and memory are measured (issue #37).

    .venv/bin/python tests/perf/class_load.py [--watchers 30] [--epochs 3] [--browser-nice 5] [--json]

A standalone script, not a test (pytest does not collect it). It starts the app's server as `make run` does, on a
free port with a checkpoints folder and a class database of its own, creates a challenge, opens it in N contexts of
Debian's Chromium (each a session of its own that redraws the board every few seconds), then starts two students'
runs of the challenge (`python -m fmnist train --challenge ... --name ...`, the same engine and database the app's
workers use) and probes the health URL four times a second until both runs have entered the board and every
context shows them. Prints the health URL's latency (median, p95, max), the server's resident memory before the
watchers, with them, and after they leave, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from fmnist.challenge import ChallengeStore, Limits  # noqa: E402
from tests.browser.test_load import HealthProbe, summary  # noqa: E402
from tests.helpers import rss_mb  # noqa: E402

CHROMIUM = os.environ.get("FMNIST_CHROMIUM", "/usr/bin/chromium")
RUN = ["--hidden", "16", "--optimizer", "adam", "--lr", "0.003", "--batch-size", "512", "--val-size", "5000",
       "--device", "cpu"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--watchers", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--browser-nice", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from tests.browser.conftest import streamlit_server  # after sys.path: it imports the app's modules

    root = Path(tempfile.mkdtemp(prefix="fmnist-class-load-"))
    db = f"sqlite:///{root / 'class.db'}"
    os.environ.update(FMNIST_CLASS_DB=db, FMNIST_ADMIN_PASSWORD="teach")
    default = ROOT / "checkpoints" / "default.safetensors"
    store = ChallengeStore(db)
    cid = store.create("Load", "30 watchers, 2 runs", Limits(max_epochs=args.epochs)).id
    figures: dict = {"watchers": args.watchers, "epochs": args.epochs, "browser_nice": args.browser_nice}
    with streamlit_server(root / "server", default) as server, sync_playwright() as pw:
        # The watchers' Chromium at a lower CPU share, standing in for browsers on the students' own machines (as
        # tests/browser/test_load.py does); --browser-nice 0 measures them as equals of the server.
        launcher = root / "chromium-low-priority"
        launcher.write_text(f"#!/bin/sh\necho {args.browser_nice} > /proc/self/autogroup 2>/dev/null\n"
                            f"exec nice -n {args.browser_nice} {CHROMIUM} \"$@\"\n")
        launcher.chmod(0o755)
        browser = pw.chromium.launch(executable_path=str(launcher))
        time.sleep(5)
        figures["rss_before_mb"] = round(rss_mb(server.pid))
        pages = []
        t0 = time.monotonic()
        for _ in range(args.watchers):
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.goto(f"{server.url}/class?challenge={cid}")
            pages.append(page)
        for page in pages:
            page.get_by_text("No ranked run yet.").wait_for(timeout=300_000)
        figures["open_all_s"] = round(time.monotonic() - t0, 1)
        probe = HealthProbe(server.url, root)
        env = {**os.environ, "FMNIST_CHECKPOINT_DIR": str(root / "cli"), "OMP_NUM_THREADS": "1"}
        t0 = time.monotonic()
        runs = [subprocess.Popen([sys.executable, "-m", "fmnist", "train", "--challenge", cid, "--name", name,
                                  "--epochs", str(args.epochs), "--seed", str(seed), *RUN], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for seed, name in ((1, "Ada"), (2, "Grace"))]
        peak = figures["rss_before_mb"]
        while any(r.poll() is None for r in runs):
            peak = max(peak, rss_mb(server.pid))
            time.sleep(0.5)
        for r in runs:
            assert r.returncode == 0, r.stderr.read()
        figures["runs_s"] = round(time.monotonic() - t0, 1)
        for page in pages:  # every watcher's board picks both runs up by itself (the run picker lists them)
            page.locator(".st-key-class_pick").wait_for(timeout=120_000)
        figures["all_boards_s"] = round(time.monotonic() - t0, 1)
        figures["rss_watching_peak_mb"] = round(peak, 0)
        probes = probe.finish()
        figures["health"] = summary(probes)
        lat = sorted(s for s, _ in probes)
        figures.update(health_median_ms=round(lat[len(lat) // 2] * 1000), health_max_ms=round(lat[-1] * 1000),
                       health_p95_ms=round(lat[int(0.95 * (len(lat) - 1))] * 1000))
        for page in pages:
            page.context.close()
        time.sleep(10)
        figures["rss_after_mb"] = round(rss_mb(server.pid), 0)
        browser.close()
    figures["board"] = [(r.rank, r.name, r.entry.val_acc) for r in store.board(cid).rows]
    figures["load_average"] = [round(x, 1) for x in os.getloadavg()]
    store.close()
    if args.json:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"{k:>22}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
