"""The app's shared-process policies in ui/session.py, without a browser."""

from fmnist.config import TrainConfig
from fmnist.runs.jobs import JobSnapshot
from ui.session import PACE_HOLD_S, held_charts, pace_settled, poll_every


def test_pages_poll_less_often_the_more_runs_share_the_server():
    paces = [poll_every(n) for n in range(0, 6)]
    assert paces[0] == paces[1] == (0.5, 1.0)  # one run: the liveliest pace
    for fewer, more in zip(paces, paces[1:]):
        assert more[0] >= fewer[0] and more[1] >= fewer[1]
    assert paces[4][1] >= 3 * paces[1][1]  # four runs on two cores: a third of the redrawing or less
    assert all(progress < charts for progress, charts in paces)


def test_a_new_polling_pace_waits_until_it_has_held_a_few_seconds():
    slow, fast = poll_every(4), poll_every(1)
    assert pace_settled(fast, fast, None, 100.0) == (False, None)
    due, seen = pace_settled(fast, slow, None, 100.0)  # more runs started: not at once
    assert not due and seen == 100.0
    due, seen = pace_settled(fast, poll_every(3), seen, 101.0)  # still changing: the first sighting counts
    assert not due and seen == 100.0
    assert pace_settled(fast, slow, seen, 100.0 + PACE_HOLD_S) == (True, 100.0)
    assert pace_settled(fast, fast, seen, 101.0) == (False, None)  # back where it was: forgotten


def snapshot(status: str, step: int) -> JobSnapshot:
    return JobSnapshot(status, TrainConfig(), [(step, 1.0)], [], step=step)


def test_live_charts_keep_their_snapshot_between_chart_updates():
    for pace in (poll_every(1), poll_every(2), poll_every(4)):
        tick, every = pace
        first = snapshot("running", 10)
        held = held_charts(None, 1.0, first, 100.0, pace)
        assert held == (1.0, 100.0, first)
        # progress ticks in between (a timer's tick can come a little early): the charts are drawn from the same
        # snapshot, so their specs do not change and browsers do not redraw them
        t = 100.0
        while t + tick < 100.0 + every:
            t += tick
            for jitter in (-0.1 * tick, 0.0, 0.1 * tick):
                assert held_charts(held, 1.0, snapshot("running", 20), t + jitter, pace) is held
        later = snapshot("running", 30)
        for due in (100.0 + every - 0.1 * tick, 100.0 + every, 100.0 + every + 0.1 * tick):
            assert held_charts(held, 1.0, later, due, pace) == (1.0, due, later)
        # the first steps of a run are drawn at the tick that has them, not a chart interval later
        empty = held_charts(None, 1.0, JobSnapshot("running", TrainConfig(), [], []), 100.0, pace)
        assert held_charts(empty, 1.0, first, 100.0 + tick, pace) == (1.0, 100.0 + tick, first)
        # the end of a run, a new run, and a page that does not poll take the snapshot at once
        done = snapshot("done", 40)
        assert held_charts(held, 1.0, done, 100.1, pace)[2] is done
        assert held_charts(held, 2.0, later, 100.1, pace) == (2.0, 100.1, later)
        assert held_charts(held, 1.0, later, 100.1, None)[2] is later
