"""The server settings the app ships with: Streamlit's protections stay on, uploads are bounded, and `make run`
listens on this machine only (`make serve` shares it on purpose)."""

import shlex
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from fmnist.addresses import local_addresses
from tests.server_process import free_port, stop, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".streamlit" / "config.toml"


def test_xsrf_and_cors_protection_are_left_on():
    server = tomllib.loads(CONFIG.read_text()).get("server", {})
    # Absent means Streamlit's defaults (both on); an explicit value must not switch them off.
    assert server.get("enableXsrfProtection", True) is True
    assert server.get("enableCORS", True) is True


def test_uploads_are_bounded_and_the_watcher_is_off():
    server = tomllib.loads(CONFIG.read_text())["server"]
    assert 1 <= server["maxUploadSize"] <= 50  # megabytes: enough for a photo, not for abuse
    assert server["fileWatcherType"] == "none"  # torch's lazy modules break the watcher


def test_usage_statistics_are_off():
    assert tomllib.loads(CONFIG.read_text())["browser"]["gatherUsageStats"] is False


def make_dry_run(*args: str) -> list[list[str]]:
    """The commands `make -n ARGS` would run, each split like a shell would."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [shlex.split(line) for line in out.splitlines() if "ui.server" in line or "fmnist.addresses" in line]


def test_make_run_binds_localhost_and_make_serve_every_interface_printing_the_addresses():
    (run,) = [c for c in make_dry_run("run") if "ui.server" in c]
    assert run[run.index("--server.address") + 1] == "127.0.0.1"
    serve = make_dry_run("serve")
    assert any("fmnist.addresses" in c for cmd in serve for c in cmd)  # the URLs to hand out, before the server
    (start,) = [c for c in serve if "ui.server" in c]
    assert start[start.index("--server.address") + 1] == "0.0.0.0"
    (other,) = [c for c in make_dry_run("run", "HOST=0.0.0.0", "PORT=8600") if "ui.server" in c]
    assert other[other.index("--server.address") + 1:] == ["0.0.0.0", "--server.port", "8600"]


def test_the_addresses_printed_are_this_machines_own():
    out = subprocess.run([sys.executable, "-m", "fmnist.addresses", "8600"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "anyone who can reach this machine" in out
    for address in local_addresses():
        assert f"http://{address}:8600" in out
        with socket.socket() as s:  # an address of this machine can be bound; one of another cannot
            s.bind((address, 0))


def test_the_server_make_run_starts_answers_on_loopback_only(tmp_path):
    """Starts the command `make run` runs (another port) and connects only to this machine's own addresses."""
    outside = local_addresses()
    if not outside:
        pytest.skip("this machine has no network address besides loopback")
    (cmd,) = [c for c in make_dry_run("run") if "ui.server" in c]
    port = free_port()
    cmd[cmd.index("--server.port") + 1] = str(port)
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", log, timeout_s=180)
        for address in outside:
            with socket.socket() as s, pytest.raises(ConnectionRefusedError):
                s.settimeout(5)
                s.connect((address, port))
    finally:
        stop(proc)
