"""The server settings the app ships with: Streamlit's protections stay on, uploads are bounded."""

import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml"


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
