"""Real-browser tests: a Streamlit server of the app, started per test session, driven by Playwright's Chromium.

What AppTest cannot do is done here: timers (the live training fragment), the drawing canvas, file uploads through
the browser and clicks on plotly charts. Every test in this folder is marked ``browser``; deselect them with
``pytest -m "not browser"``.

Chromium is Debian's (/usr/bin/chromium, or FMNIST_CHROMIUM), never a browser Playwright downloads. Without it
the tests skip and say how to get it, except under CI=true, where a skipped browser test would hide a broken
setup, so they fail instead.

Screenshots go to test-artifacts/screenshots/, the server's log to test-artifacts/streamlit-server.log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from fmnist.store import checkpoints
from tests.helpers import write_subset
from tests.server_process import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    VIEWPORT,
    ServerNotReady,
    free_port,
    stop,
    wait_healthy,
)

HERE = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

# Generous: the machine may be small and busy; every wait ends as soon as its condition holds.
TIMEOUT_MS = 60_000
SERVER_START_S = 60
expect.set_options(timeout=TIMEOUT_MS)

APP = "[data-testid='stApp']"
IDLE = f"{APP}[data-test-script-state='notRunning']"
EXCEPTION = "[data-testid='stException']"
NAV_LINK = "[data-testid='stSidebarNavLink']"

# st.Page's url_path defaults to the script's name; the default page (the Playground) lives at "/".
PAGES = {"Playground": "",
         "Train": "train", "Explore": "explore", "Evaluate": "evaluate", "Classify": "classify", "Models": "models",
         "Sweep": "sweep", "Class": "class"}


def pytest_configure(config):
    # Raised by pytest-playwright's own base_url fixture under pytest 9, not by anything here.
    config.addinivalue_line(
        "filterwarnings", "ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.is_file():
        message = f"Chromium not found at {CHROMIUM}: install it (apt-get install -y chromium) to run the browser tests"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: browser tests may not be skipped)", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session", autouse=True)
def _require_chromium(chromium_path):
    """First of all: skip (or fail under CI) before a checkpoint is trained or a server started."""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, chromium_path) -> dict:
    """pytest-playwright's launch options (--headed, --slowmo) on Debian's Chromium, not a downloaded one."""
    args = [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]
    return {**browser_type_launch_args, "executable_path": str(chromium_path), "args": args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args) -> dict:
    return {**browser_context_args, "viewport": VIEWPORT}


@dataclass
class Server:
    url: str
    checkpoint_dir: Path
    log: Path
    pid: int = 0  # the server's process (`python -m streamlit` runs in it, no child)
    thread_list: Path | None = None  # where the server lists its threads, for a server started with thread_list

    def checkpoints(self) -> set[str]:
        """Names of the checkpoint files in the server's folder."""
        return {p.name.removesuffix(checkpoints.SUFFIX) for p in self.checkpoint_dir.glob("*" + checkpoints.SUFFIX)}

    def page_url(self, title: str) -> str:
        return f"{self.url}/{PAGES[title]}"

    def threads(self, timeout: float = 10.0) -> list[str]:
        """The names of the server's Python threads (threading.enumerate()), as listed after this call began.
        Only for a server started with thread_list."""
        assert self.thread_list is not None, "start the server with streamlit_server(..., thread_list=path)"
        asked = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                listing = json.loads(self.thread_list.read_text())
                if listing["time"] > asked:
                    return listing["threads"]
            except (OSError, ValueError):
                pass  # not written yet
            time.sleep(0.05)
        raise AssertionError(f"the server did not list its threads in {timeout:.0f} s")


# `python -m streamlit`, plus a thread that writes the names of the process's Python threads to
# $FMNIST_THREAD_LIST ten times a second. (Python 3.11 gives threads no OS-level name, /proc/<pid>/task/*/comm all
# read "python"; and faulthandler's signal-time stack dumps can crash a process whose threads are busy.)
_LAUNCH_WITH_THREAD_LIST = """
import json, os, sys, threading, time

def list_threads(path):
    while True:
        with open(path + ".tmp", "w") as f:
            json.dump({"time": time.time(), "threads": [t.name for t in threading.enumerate()]}, f)
        os.replace(path + ".tmp", path)
        time.sleep(0.1)

threading.Thread(target=list_threads, args=(os.environ["FMNIST_THREAD_LIST"],), name="test-thread-list",
                 daemon=True).start()
from ui.server import main
sys.exit(main())
"""


@contextmanager
def streamlit_server(root: Path, default_checkpoint: Path, *, args: Sequence[str] = (),
                     thread_list: Path | None = None, env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """The app's server as `make run` starts it (ui.server: `streamlit run app.py` after a warm-up) on a free port,
    with a checkpoints folder of its own holding the default model.

    `args` are more command-line options for Streamlit; with `thread_list` (a file), Server.threads() names the
    server's Python threads; `env` adds to (or overrides) the server's environment, e.g. FMNIST_DATA_DIR."""
    ckpts = root / "checkpoints"
    ckpts.mkdir(parents=True)
    shutil.copy2(default_checkpoint, ckpts / default_checkpoint.name)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "streamlit-server.log"
    launch = ["-c", _LAUNCH_WITH_THREAD_LIST] if thread_list is not None else ["-m", "ui.server"]
    cmd = [sys.executable, *launch, "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           *args]
    environ = {**os.environ, "FMNIST_CHECKPOINT_DIR": str(ckpts), "PYTHONUNBUFFERED": "1", **(env or {})}
    if thread_list is not None:
        environ["FMNIST_THREAD_LIST"] = str(thread_list)
    # A session of its own, as `make run` from a terminal has: Linux shares the CPU between sessions (autogroups)
    # before it looks at their processes' priorities, and in the test's session the Playwright work of driving
    # four browsers would be charged to the server.
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        _wait_healthy(proc, url, log)
        yield Server(url, ckpts, log, proc.pid, thread_list)
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def default_checkpoint(checkpoint_dir) -> Path:
    """The tiny trained model of tests/conftest.py, which every test server starts with as its default."""
    return checkpoint_dir / (checkpoints.DEFAULT_NAME + checkpoints.SUFFIX)


@pytest.fixture(scope="session")
def server(tmp_path_factory, default_checkpoint, browser):
    """One server for the whole session, warmed up by one visit to "/".

    Until some session has run app.py (and so st.navigation), Streamlit serves the scripts in pages/ as an
    old-style multipage app; test_fresh_server.py covers that. The visit also imports torch and loads the dataset,
    so the first test's timing is its own.
    """
    with _warm_server(tmp_path_factory.mktemp("browser"), default_checkpoint, browser, "streamlit-server.log") as srv:
        yield srv


@contextmanager
def _warm_server(root: Path, default_checkpoint: Path, browser, log_name: str, env=None) -> Iterator[Server]:
    """A session's server, warmed up by one visit to "/"; its log kept in test-artifacts/ as `log_name`."""
    try:
        with streamlit_server(root, default_checkpoint, env=env) as srv:
            warm = browser.new_page()
            try:
                goto(warm, srv.url + "/")
            finally:
                warm.close()
            yield srv
    finally:
        log = root / "streamlit-server.log"
        if log.is_file():
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy2(log, ARTIFACTS / log_name)


# The first images of the real data, as a folder of the four files: the lesson's presets (20 MLP epochs, two CNNs of
# four) train to the end on it in seconds (their insight, drawn each epoch, is computed on the test images: 300 keep it
# short). Only the server of the tests that train those presets reads it.
SMALL_TRAIN, SMALL_TEST = 1000, 300


@pytest.fixture(scope="session")
def small_data(tmp_path_factory, dataset) -> Path:
    return write_subset(tmp_path_factory.mktemp("small-data"), dataset, SMALL_TRAIN, SMALL_TEST)


@pytest.fixture(scope="session")
def small_server(tmp_path_factory, default_checkpoint, small_data, browser):
    """A second server, on the small data (FMNIST_DATA_DIR): for runs of the real presets to the end, and for
    measurements over its test images that take seconds. Warmed up by one visit to "/" as `server` is."""
    with _warm_server(tmp_path_factory.mktemp("browser-small"), default_checkpoint, browser,
                      "streamlit-server-small.log", env={"FMNIST_DATA_DIR": str(small_data)}) as srv:
        yield srv


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path) -> None:
    try:
        wait_healthy(proc, url, log, timeout_s=SERVER_START_S, every_s=0.25)
    except ServerNotReady as exc:
        pytest.fail(str(exc), pytrace=False)


# Helpers for the tests.

def choose(page: Page, key: str, option: str) -> None:
    """Picks an option of a selectbox by its widget key, as a user does: open the list, click the option."""
    box = page.locator(f".st-key-{key} input")
    box.scroll_into_view_if_needed()  # first, as the list closes when its container scrolls
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)
    expect(box).to_have_value(option)


def wait_idle(page: Page, timeout: float = TIMEOUT_MS) -> None:
    """Waits until the script run that the last action started has finished.

    The short pause lets a rerun the browser has just asked for reach the server and flip the app to "running";
    waiting for "notRunning" right away could return before that.
    """
    page.wait_for_timeout(150)
    page.wait_for_selector(IDLE, timeout=timeout)


def goto(page: Page, url: str) -> None:
    """Opens a URL (a new Streamlit session) and waits for the page to finish running; fails at once, with the
    traceback's text, on a page that shows an exception."""
    page.goto(url)
    page.wait_for_selector(APP)
    wait_idle(page)
    assert_no_exception(page)


def navigate(page: Page, title: str) -> None:
    """Switches page with the sidebar navigation, staying in the same session (a goto would start a new one)."""
    path = PAGES[title]
    page.locator(f"{NAV_LINK}[href$='/{path}']").click()  # by address: "Class" is also part of "Classify"
    page.wait_for_url(re.compile(rf"^[^?#]*/{re.escape(path)}([?#].*)?$"))
    wait_idle(page)
    assert_no_exception(page)


def assert_no_exception(page: Page) -> None:
    errors = page.locator(EXCEPTION)
    if errors.count():
        pytest.fail("The page shows an exception:\n" + "\n---\n".join(errors.all_inner_texts()), pytrace=False)


def shot(page: Page, name: str, sidebar: bool = True, of: Locator | None = None) -> Path:
    """A full-page screenshot in test-artifacts/screenshots/<name>.png; with `of`, only the box around the elements it
    matches (a section the docs show, without the page around it).

    Streamlit scrolls inside its main area, not the document, so the viewport grows to the content for the shot
    (to the main area's alone with sidebar=False, for a sidebar folded away on a narrow screen).
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size or VIEWPORT
    height = page.evaluate("""sidebar => Math.max(window.innerHeight, ...[...document.querySelectorAll(
        "[data-testid='stMain'], [data-testid='stMainBlockContainer']" + (sidebar ? ", [data-testid='stSidebarContent']"
        : ""))].map(e => e.scrollHeight))""", sidebar)
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 6000)})
    try:
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        clip = None
        if of is not None:
            boxes = [b for b in (of.nth(i).bounding_box() for i in range(of.count())) if b]
            assert boxes, f"nothing to photograph for {name}"
            left, top = min(b["x"] for b in boxes) - 8, min(b["y"] for b in boxes) - 8
            clip = {"x": max(left, 0), "y": max(top, 0),
                    "width": max(b["x"] + b["width"] for b in boxes) + 8 - max(left, 0),
                    "height": max(b["y"] + b["height"] for b in boxes) + 8 - max(top, 0)}
        page.screenshot(path=str(path), full_page=True, clip=clip)
    finally:
        page.set_viewport_size(size)
    return path
