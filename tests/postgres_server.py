"""A throwaway PostgreSQL server for tests: Debian's binaries, a data folder in /tmp, listening on 127.0.0.1 only.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user Debian's package creates.
Without the binaries the test skips and says how to get them, except under CI=true, where a skipped test would hide
a broken setup: there it fails (the rule of tests/browser/conftest.py).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.server_process import free_port

USER = "fmnist"


def _skip_or_fail(message: str):
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the PostgreSQL test may not be skipped)", pytrace=False)
    pytest.skip(message)


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@contextmanager
def postgres_server(log_dir: Path) -> Iterator[str]:
    """Starts a server and yields its SQLAlchemy URL (user fmnist, database postgres, no password: trust on
    127.0.0.1 only); stops it and removes its data afterwards."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not (initdb and pg_ctl):
        _skip_or_fail("PostgreSQL not found: install Debian's postgresql package (make test does as root)")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="fmnist-pg-"))  # not under pytest's tmp: its 0700 parents stop `postgres`
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            _skip_or_fail("running as root and there is no postgres user to run PostgreSQL as")
        os.chown(folder, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    log = log_dir / "postgresql.log"
    try:
        subprocess.run([*as_user, initdb, "-D", str(data), "-U", USER, "-A", "trust", "--no-sync"], check=True,
                       capture_output=True, timeout=120)
        opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off"
        started = subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", opts, "-l", str(folder / "server.log"),
                                  "-w", "-t", "60", "start"], capture_output=True, text=True, timeout=120)
        if started.returncode != 0:
            server_log = (folder / "server.log").read_text(errors="replace") if (folder / "server.log").exists() else ""
            _skip_or_fail(f"PostgreSQL did not start: {started.stderr.strip()} {server_log.strip()[-500:]}")
        yield f"postgresql://{USER}@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError as exc:
        _skip_or_fail(f"initdb failed: {exc.stderr.decode(errors='replace').strip()[-500:]}")
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        if (folder / "server.log").exists():
            shutil.copy(folder / "server.log", log)
        shutil.rmtree(folder, ignore_errors=True)
