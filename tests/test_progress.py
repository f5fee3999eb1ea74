
"""The CLI's progress bar within an epoch: a real `python -m fmnist train` on a pseudo-terminal, and off a terminal."""

import json
import math
import os
import pty
import re
import subprocess
import sys

from fmnist.cli.progress import CLEAR, EpochBar
from fmnist.training.events import EpochEvent, StepEvent
from tests.helpers import ROOT, TINY, TINY_ARGS

TWO_EPOCHS = ["train", *TINY_ARGS, "--epochs", "2"]
# 0 s: the tiny epochs (about a second) show the bar that a longer epoch shows after a couple of seconds.
ENV = {**os.environ, "FMNIST_PROGRESS_AFTER_S": "0", "PYTHONUNBUFFERED": "1"}
STEPS = math.ceil(60_000 / TINY.batch_size)  # the tiny run keeps the last, partial batch (--no-drop-last)
BAR = re.compile(rf"Epoch +(\d)/2 \[[#.]{{24}}\] (\d+)/{STEPS} steps  [\d,]+ samples/s  ETA \d+:\d\d")


def run_on_pty(args):
    """Runs the CLI with its stdout on a pseudo-terminal; returns what the terminal received and the exit code."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "fmnist", *args], stdout=child, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, cwd=ROOT, env=ENV)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    return b"".join(chunks).decode(), proc.wait(timeout=300)


def screen(raw: str) -> list[str]:
    """The lines as the terminal shows them once done: each redraw replaces the line it returned to."""
    return [line.rsplit(CLEAR, 1)[-1] for line in raw.replace("\r\n", "\n").split("\n") if line.rsplit(CLEAR, 1)[-1]]


def test_a_terminal_shows_the_bar_within_each_epoch(tmp_path):
    raw, code = run_on_pty([*TWO_EPOCHS, "--out", str(tmp_path / "m.safetensors")])
    assert code == 0, raw
    bars = [(int(e), int(s)) for e, s in BAR.findall(raw)]
    for epoch in (1, 2):  # drawn in both epochs (at most every 0.1 s), the steps moving on
        done = [s for e, s in bars if e == epoch]
        assert done and done == sorted(set(done)) and 0 < done[0] and done[-1] < STEPS, raw
    # Each bar is erased before the next line: the finished screen holds the usual lines only.
    lines = screen(raw)
    assert lines[0].startswith("Training ") and lines[-1].startswith("Test accuracy")
    assert [re.match(r"Epoch +(\d)/2  train loss", line).group(1) for line in lines[1:-1]] == ["1", "2"], lines
    assert not any("ETA" in line for line in lines)


def test_json_on_a_terminal_prints_json_only(tmp_path):
    raw, code = run_on_pty(["train", *TINY_ARGS, "--json", "--out", str(tmp_path / "m.safetensors")])
    assert code == 0 and "ETA" not in raw and CLEAR not in raw
    lines = [json.loads(line) for line in raw.splitlines()]
    assert lines[0]["epoch"] == 1 and lines[1]["summary"] and len(lines) == 2


def test_no_bar_when_the_output_is_not_a_terminal(tmp_path):
    args = ["train", *TINY_ARGS, "--out", str(tmp_path / "m.safetensors")]
    proc = subprocess.run([sys.executable, "-m", "fmnist", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert "ETA" not in proc.stdout and "\r" not in proc.stdout and len(proc.stdout.splitlines()) == 3


class Terminal:
    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def step(step, elapsed_s, epoch=1):
    return StepEvent(epoch, step, 200, 1.0, 0.01, 0.0, elapsed_s)


def test_the_bar_waits_for_a_long_epoch_and_estimates_from_it():
    term = Terminal()
    bar = EpochBar(term, epochs=2, batch_size=50, after_s=2.0)
    bar.update(step(10, 1.0))
    assert term.text == ""  # an epoch shorter than 2 s so far: nothing drawn
    bar.update(step(40, 4.0))  # 40 steps of 50 in 4 s: 500 samples/s, 60 steps (3,000 samples) to go: 6 s
    assert term.text == CLEAR + "Epoch  1/2 [#########...............] 40/100 steps  500 samples/s  ETA 0:06"
    bar.update(EpochEvent(1, 2, 0.5, 80.0, 0.5, 80.0, [80.0] * 10, None, None, 0.01, 10.0))
    assert term.text.endswith("ETA 0:06" + CLEAR)  # erased before the epoch's line
    bar.update(step(110, 11.0, epoch=2))
    assert term.text.endswith("ETA 0:06" + CLEAR)  # epoch 2 has run 1 s: not yet
