"""Runs are worker processes: a killed worker costs its run alone, and no worker outlives the server."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import streamlit_server
from tests.browser.test_training_run import open_tiny_config, start, wait_progress

ERROR = "[data-testid='stAlertContentError']"


def workers(server_pid: int) -> dict[int, str]:
    """The server's child processes that are fmnist workers: pid -> "fmnist-spare" or "fmnist-train"."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == server_pid and comm.startswith("fmnist-"):
            out[int(entry.name)] = comm
    return out


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def healthy(url: str) -> bool:
    with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
        return r.read().decode().strip() == "ok"


def test_a_killed_worker_ends_its_run_with_a_message_and_the_next_start_works(page: Page, server):
    open_tiny_config(page, server, epochs=200)
    start(page)
    wait_progress(page, lambda p: p.step > 0, "the first steps")
    (pid,) = wait_for(lambda: [p for p, name in workers(server.pid).items() if name == "fmnist-train"], 30,
                      "the training worker")
    before = server.checkpoints()
    os.kill(pid, signal.SIGKILL)
    expect(page.locator(ERROR).filter(has_text="ended unexpectedly")).to_contain_text("SIGKILL", timeout=30_000)
    assert healthy(server.url)
    assert page.locator(".st-key-train_chart_steps .js-plotly-plot").count() == 1  # the curves so far stay
    assert server.checkpoints() == before  # nothing half-written
    assert not [p for p in server.checkpoint_dir.iterdir() if p.name.startswith(".") and p.name != ".resume"]
    page.locator(".st-key-train_stop button").wait_for()
    start(page)  # a new worker trains
    page.locator(".st-key-train_stop button").click()
    wait_progress(page, lambda p: p.status == "stopped", "the second run to stop", 60_000)


def running(pid: int) -> bool:
    """Alive and not a zombie (a process whose parent died is reaped by whoever adopts it, maybe late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_no_worker_outlives_the_server(page: Page, tmp_path, default_checkpoint):
    with streamlit_server(tmp_path, default_checkpoint) as srv:
        open_tiny_config(page, srv, epochs=200)
        wait_for(lambda: workers(srv.pid), 60, "the spare worker")  # started by the first visit
        start(page)
        wait_for(lambda: "fmnist-train" in workers(srv.pid).values(), 30, "a training worker")
        seen = workers(srv.pid)
        os.kill(srv.pid, signal.SIGTERM)  # what a service manager does; Ctrl-C in a terminal is SIGINT, alike
    wait_for(lambda: not any(running(pid) for pid in seen), 10, f"the workers {sorted(seen)} to exit")
