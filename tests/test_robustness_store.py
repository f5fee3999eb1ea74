"""The shift and rotation figures kept across a server restart (#36 item 5): each checkpoint's figures in a small
JSON file beside it, stamped with the file's name, size and modification time, written atomically; a model saved
again is measured again; and the Evaluate page of a fresh process shows what another process measured, without
measuring."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fmnist.store import checkpoints
from tests.helpers import APP, ROOT, run, wait_for
from ui.inspect import robustness_jobs
from ui.inspect.robustness_jobs import MEASUREMENTS, Measurements, items, load, save, store_path

FIGURES = {("shift", 0.0): 81.25, ("shift", 1.0): 70.5, ("rotation", 5.0): 77.0}


def key_of(path) -> tuple[str, float]:
    return str(path), path.stat().st_mtime


def test_figures_are_stored_beside_the_checkpoint_and_read_back_for_that_file_only(ckpt_dir):
    path = ckpt_dir / "default.safetensors"
    key = key_of(path)
    assert load(key) == {}  # nothing stored yet
    save(key, FIGURES)
    stored = store_path(key)
    assert stored.parent == ckpt_dir / ".robustness" and stored.name == "default.safetensors.json"
    assert json.loads(stored.read_text())["checkpoint"] == {"file": "default.safetensors", "size": path.stat().st_size,
                                                            "mtime_ns": path.stat().st_mtime_ns}
    assert load(key) == FIGURES
    assert Measurements().result(key) == FIGURES  # a new server's measurements start from them
    assert [r["name"] for r in checkpoints.CheckpointStore(ckpt_dir).list()] == ["default"]  # not a checkpoint
    # the same name saved again (a retrained model): its old figures are not its own
    model = checkpoints.load(path)
    checkpoints.CheckpointStore(ckpt_dir).save("default", model.model(), model.meta)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    assert load(key_of(path)) == {} and load(key) == {}  # the new file's key, and the old key of a changed file
    save(key, {("shift", 0.0): 1.0})  # a result of the old file, arriving after the new one was saved: not kept
    rows = json.loads(stored.read_text())["results"]
    assert load(key_of(path)) == {} and {(r["kind"], r["amount"]): r["accuracy"] for r in rows} == FIGURES
    stored.write_text("{not json")
    assert load(key_of(path)) == {}  # a damaged store is measured again, never an error on the page


# A fresh process: the app's Evaluate page with the measuring replaced by a failure, so any figure shown was read.
FRESH = """
import json, sys
from streamlit.testing.v1 import AppTest
from ui.inspect import robustness_jobs

def measured_again(*args):
    raise RuntimeError("measured again")

robustness_jobs._measure = measured_again
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.switch_page("pages/evaluate.py")
at.run()
assert not at.exception, at.exception
chart = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "evaluate_robust_chart" in str(c.proto.id)]
print(json.dumps({"buttons": [b.key for b in at.button], "chart": chart[0]["data"] if chart else None,
                  "queued": robustness_jobs.MEASUREMENTS.queue.__len__()}))
"""


def open_evaluate():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/evaluate.py")
    return run(at)


def test_a_fresh_process_shows_the_figures_another_one_measured(ckpt_dir):
    at = open_evaluate()
    at.button(key="evaluate_robust_start").click()
    run(at)
    key = key_of(ckpt_dir / "default.safetensors")
    wait_for(lambda: MEASUREMENTS.queued(key) == 0, timeout=600, what="the measurements")
    run(at)
    measured = MEASUREMENTS.result(key)
    assert set(measured) == set(items()) and load(key) == measured
    shown = [c for c in at.get("plotly_chart") if "evaluate_robust_chart" in str(c.proto.id)]
    first = json.loads(shown[0].proto.spec)["data"]
    out = subprocess.run([sys.executable, "-c", FRESH, APP], cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "FMNIST_CHECKPOINT_DIR": str(ckpt_dir), "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    fresh = json.loads(out.stdout.strip().splitlines()[-1])
    assert fresh["queued"] == 0 and "evaluate_robust_start" not in fresh["buttons"]  # nothing to measure
    assert [(t["name"], t["x"], t["y"]) for t in fresh["chart"]] == [(t["name"], t["x"], t["y"]) for t in first]
    assert robustness_jobs.STORE_DIR in {p.name for p in ckpt_dir.iterdir()}
