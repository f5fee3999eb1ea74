"""The Train page's figures for a run (ui/train/run_view.py), without a browser."""

from ui.train.run_view import duration, ordinal


def test_durations_read_as_minutes_and_seconds_then_hours_and_minutes():
    assert [duration(s) for s in (0, 0.4, 59.6, 61.4, 3599.4)] == ["0:00", "0:00", "1:00", "1:01", "59:59"]
    assert [duration(s) for s in (3599.6, 3725, 36000)] == ["1h 00m", "1h 02m", "10h 00m"]


def test_places_in_line_read_as_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 102, 111)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "102nd", "111th"]
