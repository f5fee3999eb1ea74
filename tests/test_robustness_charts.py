"""The shift and rotation chart and its words, built from plain figures (no Streamlit), and the server's measuring
thread: results kept per file, one queue, a damaged file reported instead of failing."""

from __future__ import annotations

import pytest

from tests.helpers import wait_for
from ui.i18n import gettext
from ui.inspect.robustness_charts import robustness_figure, robustness_summary
from ui.inspect.robustness_jobs import Measurements, items

MLP = {("shift", 0.0): 91.84, ("shift", 1.0): 90.6, ("shift", 3.0): 59.92, ("rotation", 0.0): 91.84,
       ("rotation", 15.0): 57.91}
GAP = {("shift", 0.0): 89.5, ("shift", 1.0): 84.9, ("shift", 3.0): 75.0, ("rotation", 0.0): 89.5,
       ("rotation", 15.0): 70.2}


def test_one_line_a_model_in_both_panels_in_the_same_colour():
    fig = robustness_figure({"default": MLP, "gap": GAP})
    traces = [(t.name, t.xaxis, list(t.x), list(t.y)) for t in fig.data]
    assert traces == [("default", "x", [0, 1, 3], [91.84, 90.6, 59.92]), ("default", "x2", [0, 15], [91.84, 57.91]),
                      ("gap", "x", [0, 1, 3], [89.5, 84.9, 75.0]), ("gap", "x2", [0, 15], [89.5, 70.2])]
    assert [t.showlegend for t in fig.data] == [True, False, True, False]  # one legend entry a model
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
    assert fig.layout.xaxis.title.text == "shift (pixels)" and fig.layout.xaxis2.title.text == "rotation (degrees)"


def test_the_summary_says_each_model_s_figures_and_which_keeps_most():
    text = robustness_summary({"default": MLP, "gap": GAP})
    assert text == ("default: 91.8% on the test images as they are, 59.9% shifted by 3 pixels, 57.9% rotated by 15 "
                    "degrees. gap: 89.5% on the test images as they are, 75.0% shifted by 3 pixels, 70.2% rotated by "
                    "15 degrees. Shifted by 3 pixels, gap keeps the largest share of its accuracy: 84%.")
    only_plain = robustness_summary({"default": {("shift", 0.0): 91.84}})
    assert only_plain == "default: 91.8% on the test images as they are."
    assert robustness_summary({}) == "Nothing measured yet."


def test_the_summary_in_korean():
    ko = gettext("{acc}% shifted by {k} pixels", "ko", acc="59.9", k="3")
    assert ko == "3픽셀 옮기면 59.9%"
    assert gettext("Shifted by {k} pixels, {model} keeps the largest share of its accuracy: {share}%.", "ko",
                   k="3", model="gap", share="84") == "3픽셀 옮겼을 때 정확도를 가장 많이 지키는 모델은 gap입니다(84%)."


def test_the_thread_keeps_results_per_file_and_reports_a_damaged_one(tiny_checkpoint, tmp_path):
    jobs = Measurements()
    key = (str(tiny_checkpoint), tiny_checkpoint.stat().st_mtime)
    wanted = items(shifts=(0, 1), rotations=(0,))
    jobs.request(key, wanted)
    jobs.request(key, wanted)  # asked twice (two sessions): queued once
    assert jobs.queued(key) <= 3
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    bad_key = (str(bad), bad.stat().st_mtime)
    jobs.request(bad_key, wanted)
    wait_for(lambda: jobs.queued(key) == 0 and jobs.queued(bad_key) == 0 and jobs.thread is None, timeout=300,
             what="the measurements")
    result = jobs.result(key)
    assert set(result) == set(wanted) and result[("rotation", 0.0)] == result[("shift", 0.0)]
    assert result[("shift", 1.0)] < result[("shift", 0.0)]
    assert jobs.result(bad_key) == {} and "bad.safetensors" in jobs.error(bad_key)
    jobs.request(key, wanted)  # all measured: nothing queued, no thread started
    assert jobs.queued(key) == 0 and jobs.thread is None


@pytest.mark.parametrize("shifts,rotations,count", [((0, 1, 2, 3, 4), (0, 5, 10, 15), 9), ((3,), (), 1)])
def test_items_lists_each_amount_once(shifts, rotations, count):
    assert len(items(shifts, rotations)) == count
