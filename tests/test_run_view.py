"""The Train page's figures for a run (ui/run_view.py), without a browser."""

import torch

from ui.run_view import device_name, duration


def test_durations_read_as_minutes_and_seconds_then_hours_and_minutes():
    assert [duration(s) for s in (0, 0.4, 59.6, 61.4, 3599.4)] == ["0:00", "0:00", "1:00", "1:01", "59:59"]
    assert [duration(s) for s in (3599.6, 3725, 36000)] == ["1h 00m", "1h 02m", "10h 00m"]


def test_device_names_say_where_auto_runs_and_keep_a_missing_gpu_readable():
    assert device_name("cpu") == "cpu"
    assert device_name("auto") == ("cpu" if not torch.cuda.is_available() else device_name("cuda"))
    if not torch.cuda.is_available():
        assert device_name("cuda") == "cuda"  # resolve_device refuses it; the page still names what was asked
    else:
        assert device_name("cuda").startswith("cuda (")
