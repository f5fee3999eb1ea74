"""The first Evaluate on a fresh server, and the server's memory before and after a class.

    PYTHONPATH=. .venv/bin/python tests/perf/first_evaluate.py [--students 8] [--checkpoint PATH]

Starts the app's server as `make run` does (python -m ui.server) on a free port, with a checkpoints folder of its
own holding a copy of the shipped default model, and drives it with Debian's Chromium:

1. the server's memory once it answers (VmRSS, and its anonymous part: what the process allocated, not the shared
   libraries and files it maps);
2. a first visitor opens /evaluate: seconds from the address to the confusion matrix drawn and the script finished,
   and the memory after; then a second visitor (a new session) does the same, which measures what any visit costs
   (the browser loading the app and Plotly, the server's script run) apart from the first visit's own work;
3. a class: --students browsers, one after another, each opening Evaluate, Explore and Classify (with an upload); then
   every browser leaves, the server drops their sessions (--server.disconnectedSessionTTL 2 here, 120 s by
   default), and the memory is read again after a settle.

Prints one line per measurement; the figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.server_process import CHROMIUM, CHROMIUM_ARGS, ROOT, VIEWPORT, free_port, stop, wait_healthy

APP = "[data-testid='stApp']"
IDLE = f"{APP}[data-test-script-state='notRunning']"
CONFUSION = ".st-key-evaluate_confusion .js-plotly-plot"
PHOTO = ROOT / "tests" / "fixtures" / "product_photos" / "00004-6-shirt.jpg"
TIMEOUT_MS = 180_000
SETTLE_S = 10


def memory_mb(pid: int) -> dict:
    """VmRSS and RssAnon of a process, in MB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                fields[key] = int(value.split()[0]) // 1024
    return fields


def wait_idle(page) -> None:
    page.wait_for_timeout(150)
    page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)


def open_evaluate(browser, url: str) -> float:
    """Seconds from a new tab's address to Evaluate's confusion matrix drawn and its script finished."""
    page = browser.new_page(viewport=VIEWPORT)
    start = time.perf_counter()
    page.goto(f"{url}/evaluate")
    page.wait_for_selector(CONFUSION, state="visible", timeout=TIMEOUT_MS)
    wait_idle(page)
    seconds = time.perf_counter() - start
    page.close()
    return seconds


def student(browser, url: str) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    for path, ready in (("evaluate", CONFUSION), ("explore", ".st-key-explore_true"),
                        ("classify", "[data-testid='stTabs']")):
        page.goto(f"{url}/{path}")
        page.wait_for_selector(ready, state="attached")
        wait_idle(page)
    page.get_by_role("tab", name="Upload").click()
    page.locator(".st-key-classify_upload input[type='file']").set_input_files(str(PHOTO))
    page.get_by_text("What the model sees").first.wait_for()
    wait_idle(page)
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "default.safetensors")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="fmnist-first-evaluate-"))
    ckpts = work / "checkpoints"
    ckpts.mkdir()
    shutil.copy2(args.checkpoint, ckpts / "default.safetensors")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "server.log"
    cmd = [sys.executable, "-m", "ui.server", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.disconnectedSessionTTL", "2"]
    env = {**os.environ, "FMNIST_CHECKPOINT_DIR": str(ckpts), "PYTHONUNBUFFERED": "1"}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            wait_healthy(proc, url, log, timeout_s=120, every_s=0.05)
            time.sleep(SETTLE_S)  # the server idles a moment, as one a teacher started before class does
            before = memory_mb(proc.pid)
            print(f"server up:                    {before['VmRSS']:5d} MB ({before['RssAnon']} MB anonymous)")
            first = open_evaluate(browser, url)
            after_first = memory_mb(proc.pid)
            print(f"first Evaluate:               {first:5.2f} s")
            second = open_evaluate(browser, url)
            print(f"second Evaluate (new session): {second:4.2f} s  (what any visit costs the browser and server)")
            print(f"after the first Evaluate:     {after_first['VmRSS']:5d} MB ({after_first['RssAnon']} MB anonymous)")
            for _ in range(args.students):
                student(browser, url)
            during = memory_mb(proc.pid)
            print(f"after {args.students} students:".ljust(30)
                  + f"{during['VmRSS']:5d} MB ({during['RssAnon']} MB anonymous)")
            time.sleep(SETTLE_S)  # their sessions dropped (TTL 2 s) and the caches' session entries released
            left = memory_mb(proc.pid)
            print(f"after the class left:         {left['VmRSS']:5d} MB ({left['RssAnon']} MB anonymous), "
                  f"{left['VmRSS'] - before['VmRSS']:+d} MB since the server was up")
        finally:
            browser.close()
            stop(proc)
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
