"""A Streamlit server of the app as a child process, and the browser it is driven with: what the browser tests
(tests/browser/conftest.py) and the speed measurements (tests/perf/app_speed.py) share. No pytest here."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("FMNIST_CHROMIUM") or "/usr/bin/chromium")  # Debian's, never a downloaded one
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}


class ServerNotReady(RuntimeError):
    """The server exited, or did not answer "ok" on its health URL in time; the message holds its output's tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def stop(proc: subprocess.Popen, timeout_s: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)


def wait_healthy(proc: subprocess.Popen, url: str, log: Path, timeout_s: float = 60, every_s: float = 0.05) -> None:
    """Returns once url's /_stcore/health answers "ok"; stops the server and raises ServerNotReady otherwise."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerNotReady(f"The Streamlit server exited with code {proc.returncode} before it was ready. "
                                 f"Its output:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                body = r.read().decode(errors="replace").strip()
            if body == "ok":
                return
            last = f"answered {body!r}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(every_s)
    stop(proc)
    raise ServerNotReady(f"The Streamlit server at {url} was not healthy after {timeout_s:.0f} s ({last}). "
                         f"Its output:\n{tail(log)}")
