"""Robustness and load, each on a server of its own (so its threads and memory are the test's alone):

* a closed tab stops its worker within a few seconds, saves the run as stopped and gives its memory back;
* four browser sessions training at once on a two-core machine all finish, each with its own charts, active model
  and checkpoint, while the health URL keeps answering in under a second. The four users' Chromium runs on the same
  two cores at a lower CPU priority (users_browser), standing in for browsers on the users' own machines.

Memory and latency figures are printed (pytest -s) and written to test-artifacts/memory.txt and load.txt.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, BrowserType, Page, expect

from fmnist import checkpoints
from fmnist.config import TrainConfig
from fmnist.model import parameter_count
from tests.browser.conftest import (
    ARTIFACTS,
    VIEWPORT,
    Server,
    assert_no_exception,
    goto,
    navigate,
    shot,
    streamlit_server,
)
from tests.browser.test_training_run import (
    LOSS_CHART,
    PROGRESS,
    STEP_CHART,
    Progress,
    parse_progress,
    progress,
    saved_name,
    start,
    wait_progress,
)
from tests.server_process import free_port
from ui.share import params_to_config

SIDEBAR = "[data-testid='stSidebar']"
INFO = "[data-testid='stAlertContentInfo']"
ACTIVE = re.compile(r"Active model: (\S+)")
HEALTH_EVERY_S = 0.25
HEALTH_MAX_S = 1.0  # the bound for the health URL under load
# The four simulated users' Chromium gets a smaller share of the two cores than the server: an autogroup (Linux's
# CPU share per session) at this nice value. With equal shares, their four renderers redrawing at once left the
# runnable server without a core for up to 1.5 s (its threads' schedstat: runnable, not running; docs/reliability.md),
# a contest that browsers on the users' own machines never enter. FMNIST_LOAD_BROWSER_NICE=0 measures that case.
BROWSER_NICE = int(os.environ.get("FMNIST_LOAD_BROWSER_NICE", "5"))
# With equal shares the test enforces only this much of the app's own delay on top of the control's worst wait.
HEALTH_REGRESSION_S = 2.0
STOP_WITHIN_S = 10.0  # a closed tab's worker must be gone by then
# Closing a tab may leave at most this much more resident memory than before it was opened. Measured: +12 MB
# after a server's first run (the allocator keeps what a run used; later runs reuse it, +0-1 MB each); a
# per-session copy of the dataset, the leak this guards against, would be ~220 MB (60,000 + 10,000 normalised
# images as float32; the training set alone 188 MB) and fail it.
LEAK_BOUND_MB = 60
FOUR_TIMEOUT_S = 240
WIDTHS = (16, 24, 32, 40)  # one recognisable config per session
# Long enough to watch all four pages while they train: the runs take 11-17 s, and for the first 4-7 s after the
# four Start clicks the browsers (in their smaller CPU share) are too busy redrawing to answer the test.
EPOCHS_EACH = 12


# The server process, from outside: resident memory and what its Python threads are doing.

def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


WORKER = "fmnist-train"  # TrainingJob's worker thread (fmnist/jobs.py)
WARM_UP = "fmnist-warm-up"  # ui/session.py's warm-up thread, once per server


def training_threads(server: Server) -> int:
    return server.threads().count(WORKER)


class CountWorkers:
    """The most training threads the server ran at once, watched from a thread of the test's own from creation
    until most() is read: the pages' checks take seconds, and runs this short may overlap only briefly."""

    def __init__(self, server: Server):
        self._most, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(server,), daemon=True)
        self._thread.start()

    def _watch(self, server: Server) -> None:
        try:
            while not self._stop.is_set():
                self._most = max(self._most, training_threads(server))
        except AssertionError:  # the server has stopped: the test failed elsewhere and says so
            pass

    def most(self) -> int:
        self._stop.set()
        self._thread.join(15)
        return self._most


def wait_warm(server: Server, browser: Browser) -> None:
    """One visit loads what every session shares (torch's modules, the dataset and its normalised tensors, in
    app.py's warm-up thread); waits for that thread too, so memory measured afterwards is the steady state."""
    page = browser.new_page()
    try:
        goto(page, server.url + "/")
    finally:
        page.close()
    deadline = time.monotonic() + 90
    while WARM_UP in server.threads():
        assert time.monotonic() < deadline, "the server's warm-up thread did not finish in 90 s"
        time.sleep(0.5)
    assert training_threads(server) == 0
    previous = rss_mb(server.pid)
    while True:  # and for memory to settle
        time.sleep(1.0)
        now = rss_mb(server.pid)
        if abs(now - previous) < 2:
            return
        assert time.monotonic() < deadline, "the server's memory did not settle in 90 s after its first visit"
        previous = now


# The monitor's probe, in a process of its own: a thread of the test's process would wait for that process's
# GIL, which Playwright's message handling holds for long stretches, and so time the test rather than the server.
# It runs at a higher priority (when allowed), and so does the control server, each in a session of its own (Linux
# shares the CPU between sessions first), so that their times are the server's and not the wait of a probe
# starved of CPU by the test's own browsers: a health checker would run on another machine.
_PROBE = """
import json, os, sys, time, urllib.request

health, control, pid, out, stop, every = sys.argv[1:]
try:  # as a health checker on another machine would be: not waiting for a core behind the test's four browsers
    os.setpriority(os.PRIO_PROCESS, 0, -10)
except OSError:
    pass

def schedstat(pid, tid):
    # (seconds on a CPU, seconds runnable but not running) of one of the server's threads since it started
    try:
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            ran, waited = f.read().split()[:2]
        return int(ran) / 1e9, int(waited) / 1e9
    except (OSError, ValueError):
        return None

def clocks(pid):
    # the server's CPU time, all threads, and its main thread's (Streamlit's event loop) wait for a CPU
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    main = schedstat(pid, pid)
    return None if main is None else (sum(s[0] for t in tids if (s := schedstat(pid, t))), main[1])

def get(url):
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read().decode(errors="replace").strip()
        error = None if body == "ok" else f"answered {body!r}"
    except OSError as exc:
        body, error = "", str(exc)
    return time.perf_counter() - t0, error

with open(out, "a", buffering=1) as f:
    while not os.path.exists(stop):
        for kind, url in (("health", health), ("control", control)):
            before = clocks(pid) if kind == "health" else None
            latency, error = get(url)
            after = clocks(pid) if before else None
            spent = [b - a for a, b in zip(before, after)] if before and after else None
            f.write(json.dumps({"t": time.time(), "kind": kind, "s": latency, "error": error, "server": spent})
                    + "\\n")
        try:
            with open(f"/proc/{pid}/status") as status:
                kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            f.write(json.dumps({"t": time.time(), "kind": "rss", "mb": kb / 1024}) + "\\n")
        except (OSError, StopIteration):
            pass
        time.sleep(float(every))
"""


class Monitor:
    """From a process of its own, every HEALTH_EVERY_S: the time /_stcore/health takes to answer, and the server's
    resident memory. For comparison, the time a plain HTTP server in yet another process takes (the control):
    when it answers at once while the health URL is slow, the time goes in the app's process, not in a machine
    too busy to answer anybody. `phase` labels the probes from the moment it is set."""

    def __init__(self, server: Server, workdir: Path):
        self.server = server
        self.workdir = workdir
        self.out, self.stop_file = workdir / "monitor.jsonl", workdir / "monitor.stop"
        self.phases: list[tuple[float, str]] = [(time.time(), "start")]
        self.samples: list[dict] = []
        self._procs: list[subprocess.Popen] = []

    @property
    def phase(self) -> str:
        return self.phases[-1][1]

    @phase.setter
    def phase(self, name: str) -> None:
        self.phases.append((time.time(), name))

    def __enter__(self) -> Monitor:
        control_port = free_port()
        (self.workdir / "control").mkdir(exist_ok=True)
        (self.workdir / "control" / "index.html").write_text("ok")  # what the probe expects, as from health
        self._procs.append(subprocess.Popen(
            [sys.executable, "-m", "http.server", str(control_port), "--bind", "127.0.0.1", "-d",
             str(self.workdir / "control")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True))
        try:
            os.setpriority(os.PRIO_PROCESS, self._procs[-1].pid, -10)
        except OSError:
            pass
        self._procs.append(subprocess.Popen(
            [sys.executable, "-c", _PROBE, self.server.url + "/_stcore/health", f"http://127.0.0.1:{control_port}/",
             str(self.server.pid), str(self.out), str(self.stop_file), str(HEALTH_EVERY_S)], start_new_session=True))
        return self

    def __exit__(self, *exc) -> None:
        self.stop_file.touch()
        control, probe = self._procs
        try:
            probe.wait(30)
        finally:
            for proc in (probe, control):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
        self.samples = [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]
        for sample in self.samples:
            sample["phase"] = next(name for t, name in reversed(self.phases) if t <= sample["t"])

    def latencies(self, kind: str = "health") -> list[float]:
        return [s["s"] for s in self.samples if s["kind"] == kind and s["error"] is None]

    @property
    def failures(self) -> list[str]:
        return [f"{s['kind']}: {s['error']}" for s in self.samples if s["kind"] == "health" and s["error"]]

    @property
    def max_latency(self) -> float:
        return max(self.latencies(), default=math.nan)

    @property
    def max_control_latency(self) -> float:
        return max(self.latencies("control"), default=0.0)

    @property
    def rss(self) -> list[float]:
        return [s["mb"] for s in self.samples if s["kind"] == "rss"]

    def summary(self) -> str:
        lat = sorted(self.latencies())
        if not lat:
            return "health: no answers"
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
        phases = ", ".join(
            f"{name} {max(values) * 1000:.0f}/{max(controls, default=math.nan) * 1000:.0f}"
            for _, name in self.phases
            if (values := [s["s"] for s in self.samples if s["kind"] == "health" and s["phase"] == name])
            for controls in [[s["s"] for s in self.samples if s["kind"] == "control" and s["phase"] == name]])
        t0 = self.phases[0][0]
        slow = ", ".join(f"{s['s'] * 1000:.0f} ms at {s['t'] - s['s'] - t0:.1f} s{server_note(s)}"
                         for s in self.samples if s["kind"] == "health" and s["s"] > HEALTH_MAX_S / 2) or "none"
        marks = ", ".join(f"{name} at {t - t0:.1f} s" for t, name in self.phases[1:])
        return (f"health: {len(lat)} probes, median {lat[len(lat) // 2] * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                f"max {lat[-1] * 1000:.0f} ms ({'within' if lat[-1] < HEALTH_MAX_S else 'over'} the issue's "
                f"{HEALTH_MAX_S:g} s), {len(self.failures)} failures; "
                f"max by phase, health/control server (ms): {phases}\n"
                f"  health answers over {HEALTH_MAX_S / 2 * 1000:.0f} ms (sent at): {slow}; phases: {marks}")


def server_note(sample: dict) -> str:
    """What the server did while a health answer took long (its threads' schedstat): the CPU time all its threads
    got, and how long its event loop was runnable and given no CPU. An answer far longer than the first is time the
    kernel gave others; the second is a lower bound of that (the threads the event loop waits for, the GIL's holder
    or a new script thread, may have been kept waiting too)."""
    spent = sample.get("server")
    return "" if spent is None else (f" (the server ran {spent[0] * 1000:.0f} ms of it, its event loop waited "
                                     f"{spent[1] * 1000:.0f} ms for a CPU)")


def report(name: str, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_text(text)


def link_config(hidden: int, epochs: int) -> tuple[str, TrainConfig]:
    """A shared link's query (the tiny run of test_training_run.py, `hidden` wide) and the config it opens."""
    params = {"hidden": str(hidden), "optimizer": "adam", "lr": "0.003", "batch_size": "512", "epochs": str(epochs),
              "device": "cpu"}
    config, problems = params_to_config(params)
    assert config is not None and not problems, problems
    return "&".join(f"{k}={v}" for k, v in params.items()), config


def open_link(page: Page, server: Server, hidden: int, epochs: int) -> TrainConfig:
    query, config = link_config(hidden, epochs)
    goto(page, f"{server.page_url('Train')}?{query}")
    expect(page.locator(".st-key-cfg_w0 input")).to_have_value(str(hidden))
    expect(page.locator(".st-key-cfg_epochs input")).to_have_value(str(epochs))
    expect(page.locator(".st-key-train_start button")).to_be_enabled()
    return config


def settled_view(page: Page) -> tuple[str | None, Progress | None] | None:
    """(active model, progress line) read in one go, or None while a script run is under way: a rerun redraws the
    sidebar before the progress line, so mid-rerun the two can disagree."""
    view = page.evaluate("""progress => {
        if (document.querySelector("[data-testid='stApp']")?.dataset.testScriptState !== "notRunning") return null;
        const sidebar = document.querySelector("[data-testid='stSidebar']")?.innerText ?? "";
        return {sidebar, progress: document.querySelector(progress)?.innerText ?? ""};
    }""", PROGRESS)
    if view is None:
        return None
    m = ACTIVE.search(view["sidebar"])
    return (m[1] if m else None), parse_progress(view["progress"])


def shown_state(page: Page) -> tuple[Progress | None, str | None]:
    """The progress line and the script state (running / notRunning) a page shows now."""
    return progress(page), page.locator("[data-testid='stApp']").get_attribute("data-test-script-state")


def chart_data(page: Page, selector: str) -> list[dict]:
    """The traces of a plotly chart on the page: name, x and y."""
    return page.evaluate("""sel => { const gd = document.querySelector(sel);
        return gd && gd.data ? gd.data.map(t => ({name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])}))
                             : []; }""", selector)


def new_context(browser: Browser) -> BrowserContext:
    return browser.new_context(viewport=VIEWPORT)


@pytest.fixture
def users_browser(browser: Browser, browser_type: BrowserType, browser_type_launch_args: dict, tmp_path):
    """Chromium for the four users, started through a launcher that lowers its CPU share. Playwright starts the
    browser as a session leader, so the launcher's /proc/self/autogroup is the browser's own autogroup; where the
    kernel has no autogroups, plain nice does the same. The launcher writes down what it got."""
    if BROWSER_NICE <= 0:
        yield browser, "equal shares"
        return
    chromium, got = browser_type_launch_args["executable_path"], tmp_path / "browser-priority.txt"
    launcher = tmp_path / "chromium-low-priority"
    launcher.write_text(f"#!/bin/sh\necho {BROWSER_NICE} > /proc/self/autogroup 2>/dev/null\n"
                        f"cat /proc/self/autogroup > {shlex.quote(str(got))} 2>/dev/null\n"
                        f"exec nice -n {BROWSER_NICE} {shlex.quote(chromium)} \"$@\"\n")
    launcher.chmod(0o755)
    users = browser_type.launch(**{**browser_type_launch_args, "executable_path": str(launcher)})
    try:
        note = got.read_text().strip() if got.is_file() else "no autogroup"
        yield users, f"Chromium at nice {BROWSER_NICE} ({note})"
    finally:
        users.close()


def frozen_settings(page: Page) -> str | None:
    """The "This run trains ..." line a page shows now, settled or mid-rerun (it names the session's own run)."""
    texts = [t for t in page.locator(INFO).all_inner_texts() if "This run trains" in t]
    return texts[0] if texts else None


def test_closed_tab_stops_its_worker(browser: Browser, tmp_path, default_checkpoint):
    epochs = 500  # minutes of training: far longer than the tab stays open
    with streamlit_server(tmp_path, default_checkpoint, thread_list=tmp_path / "threads.json") as server:
        wait_warm(server, browser)
        before_ckpts = server.checkpoints()
        rss_before = rss_mb(server.pid)

        with Monitor(server, tmp_path) as monitor:
            context = new_context(browser)
            try:
                monitor.phase = "open"
                page = context.new_page()
                open_link(page, server, 32, epochs)
                monitor.phase = "train"
                start(page)
                running = wait_progress(page, lambda p: p.status == "running" and p.step >= 50, "50 steps")
                assert training_threads(server) == 1, "the run's worker is not among the server's threads"
                rss_during = rss_mb(server.pid)
            finally:
                monitor.phase = "close"
                t0 = time.monotonic()
                context.close()  # the tab and its websocket: Streamlit releases the session's cache at once

            gone_s = saved_s = None
            while time.monotonic() - t0 < STOP_WITHIN_S and (gone_s is None or saved_s is None):
                if gone_s is None and training_threads(server) == 0:
                    gone_s = time.monotonic() - t0
                if saved_s is None and server.checkpoints() - before_ckpts:
                    saved_s = time.monotonic() - t0
                time.sleep(0.2)
            time.sleep(1.0)  # a probe that the close held up answers meanwhile
        rss_after = rss_mb(server.pid)

        report("memory.txt", [
            "test_closed_tab_stops_its_worker: server VmRSS",
            f"  before the tab (server warm, no session): {rss_before:.0f} MB",
            f"  during its run (step {running.step}/{running.total}): {rss_during:.0f} MB",
            f"  after closing it: {rss_after:.0f} MB ({rss_after - rss_before:+.0f} MB)",
            f"  worker gone {gone_s if gone_s is None else f'{gone_s:.1f} s'} after close, "
            f"checkpoint saved after {saved_s if saved_s is None else f'{saved_s:.1f} s'}",
            f"  {monitor.summary()}",
        ])

        assert gone_s is not None and gone_s <= STOP_WITHIN_S, (
            f"a training thread still ran {STOP_WITHIN_S:.0f} s after its tab closed")
        new = server.checkpoints() - before_ckpts
        assert len(new) == 1, f"expected the stopped run's checkpoint, found new checkpoints {new}"
        meta = checkpoints.read_meta(server.checkpoint_dir / (new.pop() + checkpoints.SUFFIX))
        assert meta["stopped"] is True, meta.get("stopped")
        assert meta["config"]["hidden"] == [32] and meta["config"]["epochs"] == epochs, meta["config"]
        assert len(meta["history"]) < epochs
        assert not monitor.failures, monitor.failures
        assert rss_after - rss_before <= LEAK_BOUND_MB, (
            f"closing the tab left {rss_after - rss_before:.0f} MB more resident memory than before it was opened")


def test_four_sessions_train_at_once(browser: Browser, users_browser, tmp_path, default_checkpoint):
    users, priority = users_browser
    contexts: list[BrowserContext] = []
    with streamlit_server(tmp_path, default_checkpoint, thread_list=tmp_path / "threads.json") as server:
        wait_warm(server, browser)
        before_ckpts = server.checkpoints()
        rss_idle = rss_mb(server.pid)
        t_start = time.monotonic()
        with Monitor(server, tmp_path) as monitor:
            try:
                pages: list[Page] = []
                configs: list[TrainConfig] = []
                monitor.phase = "open"
                for hidden in WIDTHS:
                    contexts.append(new_context(users))  # a context of its own: a session of its own
                    pages.append(contexts[-1].new_page())
                    configs.append(open_link(pages[-1], server, hidden, EPOCHS_EACH))
                rss_open = rss_mb(server.pid)

                # Start all four within a second or so: their workers train side by side.
                monitor.phase = "train"
                counting = CountWorkers(server)
                for page in pages:
                    page.locator(".st-key-train_start button").click()
                t_started = time.monotonic()
                # Until all four are done: each page names the settings of its own run (not of the last one started)
                # while it trains, no session's active model moves while its own run goes on, whoever else finishes
                # meanwhile, and no page shows an exception. All four pages are watched in turn from the Start clicks
                # on: a run of this size can be over in ten seconds.
                deadline = time.monotonic() + FOUR_TIMEOUT_S
                status = [""] * len(pages)
                finished_after: list[float | None] = [None] * len(pages)
                own_settings_seen = [False] * len(pages)
                while not all(s in ("done", "stopped", "failed") for s in status):
                    assert time.monotonic() < deadline, (
                        f"not all runs finished in {FOUR_TIMEOUT_S} s: {status}; the pages show "
                        f"{[shown_state(page) for page in pages]}")
                    for i, page in enumerate(pages):
                        if finished_after[i] is not None:
                            continue
                        assert_no_exception(page)
                        frozen = frozen_settings(page)
                        if frozen:
                            assert f"This run trains {configs[i].describe()}" in frozen, (i, frozen)
                            own_settings_seen[i] = True
                        view = settled_view(page)
                        # Mid-rerun (view None) the progress line alone: enough to see the run end, never to judge
                        # the sidebar.
                        active, p = view if view is not None else (None, progress(page))
                        status[i] = p.status if p else ""
                        if view is not None and p is not None and p.status in ("running", "paused", "stopping"):
                            assert active in (None, checkpoints.DEFAULT_NAME), (
                                f"session {i} (hidden {WIDTHS[i]}) shows active model {active} while its run goes on")
                        elif status[i] in ("done", "stopped", "failed"):
                            finished_after[i] = time.monotonic() - t_started
                            monitor.phase = f"{sum(f is not None for f in finished_after)}-done"
                    pages[0].wait_for_timeout(250)
                t_done = time.monotonic()
                assert status == ["done"] * len(pages), status
                assert all(own_settings_seen), (
                    f"sessions {[i for i, seen in enumerate(own_settings_seen) if not seen]} never showed the settings "
                    "of their run while it trained")
                concurrent = counting.most()
                assert concurrent == len(pages), f"at most {concurrent} of the {len(pages)} runs trained at once"

                monitor.phase = "check"
                names = []
                for i, (page, config) in enumerate(zip(pages, configs)):
                    name = saved_name(page)
                    names.append(name)
                    done = progress(page)
                    assert done.status == "done" and done.epoch == EPOCHS_EACH and done.step == done.total, done
                    meta = checkpoints.read_meta(server.checkpoint_dir / (name + checkpoints.SUFFIX))
                    assert meta["config"]["hidden"] == [WIDTHS[i]], (i, name, meta["config"])
                    assert meta["stopped"] is False and len(meta["history"]) == EPOCHS_EACH
                    expect(page.locator(SIDEBAR)).to_contain_text(f"Active model: {name}")
                    expect(page.locator("[data-testid='stMetric']").filter(has_text="Parameters")).to_contain_text(
                        f"{parameter_count(config):,}")
                    # Its own curves: one run's two step traces, and per-epoch losses that are its checkpoint's.
                    steps = chart_data(page, STEP_CHART)
                    assert [t["name"] for t in steps] == ["loss (raw)", "loss (smoothed)"], steps
                    assert steps[0]["x"][-1] == done.total
                    epochs = {t["name"]: t["y"] for t in chart_data(page, LOSS_CHART)}
                    for kind in ("train", "test"):
                        ours = [e[f"{kind}_loss"] for e in meta["history"]]
                        assert len(epochs.get(kind, [])) == EPOCHS_EACH and all(
                            math.isclose(a, b, rel_tol=1e-6) for a, b in zip(epochs[kind], ours)), (
                            f"session {i}'s {kind} loss chart {epochs.get(kind)} is not its run's {ours}")
                    assert_no_exception(page)
                    shot(page, f"load-session-{i + 1}-hidden-{WIDTHS[i]}")

                assert len(set(names)) == len(names), f"two sessions saved under one name: {names}"
                assert server.checkpoints() - before_ckpts == set(names)

                # Models, in each session, picks that session's own checkpoint.
                for page, name in zip(pages, names):
                    navigate(page, "Models")
                    expect(page.locator(".st-key-models_pick input")).to_have_value(name)
                    assert_no_exception(page)
            finally:
                monitor.phase = "close"
                for context in contexts:
                    context.close()
            time.sleep(2.0)
        rss_closed = rss_mb(server.pid)
        rss_peak = max(monitor.rss, default=math.nan)

        n = len(WIDTHS)
        report("load.txt", [
            f"test_four_sessions_train_at_once: {n} sessions, hidden {', '.join(map(str, WIDTHS))}, "
            f"{EPOCHS_EACH} epochs each",
            f"  at most {concurrent} training threads at once; "
            f"runs all finished {t_done - t_started:.1f} s after the Start clicks; "
            f"each after {', '.join(f'{s:.1f}' if s is not None else '?' for s in finished_after)} s",
            f"  whole test (pages open to closed) {time.monotonic() - t_start:.1f} s; users' browser: {priority}",
            f"  server VmRSS: warm, no session {rss_idle:.0f} MB; {n} sessions open {rss_open:.0f} MB "
            f"({(rss_open - rss_idle) / n:+.1f} MB per session); peak while training {rss_peak:.0f} MB "
            f"({(rss_peak - rss_idle) / n:+.1f} MB per training session); after closing all {rss_closed:.0f} MB",
            f"  {monitor.summary()}",
        ])
        assert not monitor.failures, monitor.failures[:5]
        # The issue's bound, with the users' browsers in their lower CPU share (BROWSER_NICE). With equal shares the
        # machine itself stalls at times (the idle control server, in a session of its own, waited up to 0.5 s), and
        # the bound is on the app's own delay, on top of the worst the control saw.
        assert monitor.latencies("control"), "the control server never answered: no baseline to compare with"
        if BROWSER_NICE > 0:
            assert monitor.max_latency < HEALTH_MAX_S, monitor.summary()
        else:
            assert monitor.max_latency < HEALTH_REGRESSION_S + monitor.max_control_latency, monitor.summary()
