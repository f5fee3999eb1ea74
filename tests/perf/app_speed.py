"""App response times against the targets of the speed issue, measured in a real browser.

    .venv/bin/python tests/perf/app_speed.py [--json] [--checkpoint PATH] [--strict]

A standalone script, not a test: pytest does not collect it (no test_ prefix), and it takes a minute or two.
It starts the app's server as `make run` does (`python -m ui.server`: `streamlit run app.py` after a warm-up) on
a free port with a checkpoints folder of its own (a copy of checkpoints/default.safetensors, or a tiny model trained
for the purpose when there is none) and drives it with Playwright on Debian's Chromium (/usr/bin/chromium or
FMNIST_CHROMIUM; never a downloaded browser):

1. server process start, and its health URL's first "ok" -> the Train page fully rendered (title visible, script
   finished);
2. Start on the Train page (seed preset, 1 epoch) -> the progress line shows a step > 0, and -> the step-loss
   chart has a point; then Stop (stopped in its first epoch, the run is discarded and the active model stays);

   both timed by the page's own clock (MARKS_JS), the moment the browser drew them;
3. Explore and Evaluate, each visited twice through the sidebar; the second visit has the model and its test-set
   predictions cached: click -> page content visible and script finished;
4. in-process, with the server gone: a 280x280 RGBA drawing classified (fmnist.data.images.prepare_canvas +
   fmnist.inspect.predict.probabilities, median of 50), also through the app's own path
   (ui.inspect.prediction_view.classify_canvas) and the saliency map the Classify page shows beside the prediction; the
   same for the best preset's model (2 x 2048).

Prints a table of target vs measured (or JSON with --json) and the load average, which matters: the figures on a
busy 2-core machine are not those of an idle one. --strict exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.server_process import (  # noqa: E402  (after the path is set)
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    ServerNotReady,
    free_port,
    stop,
    tail,
    wait_healthy,
)
from tests.timing import call_times  # noqa: E402

SETTLE_S = 0.0
TIMEOUT_MS = 120_000

APP = "[data-testid='stApp']"
IDLE = f"{APP}[data-test-script-state='notRunning']"
EXCEPTION = "[data-testid='stException']"
NAV_LINK = "[data-testid='stSidebarNavLink']"
PROGRESS = "[data-testid='stProgress']"
STEP_CHART = ".st-key-train_chart_steps .js-plotly-plot"
TRAIN_TITLE = "Train a network on Fashion-MNIST"
# What each page shows last, once its script has run to the end.
PAGE_CONTENT = {
    "Explore": ".st-key-explore_probs .js-plotly-plot",
    "Evaluate": ".st-key-evaluate_confusion .js-plotly-plot",
}
PAGE_PATH = {"Explore": "explore", "Evaluate": "evaluate"}
TINY_TRAIN = ["train", "--hidden", "32", "--epochs", "1", "--batch-size", "512", "--optimizer", "adam",
              "--lr", "0.003", "--device", "cpu"]

# The progress line and the step-loss chart's point count, read in one round trip.
POLL_JS = """([progress, chart]) => {
    const bar = document.querySelector(progress);
    const gd = document.querySelector(chart);
    const points = gd && gd.data && gd.data.length ? Math.max(...gd.data.map(t => (t.x || []).length)) : 0;
    return {text: bar ? bar.innerText : "", points: points};
}"""
STEP = re.compile(r"(\w+) · epoch \d+/\d+ · step ([\d,]+)/")

# Installed in the page before it loads: the moments (the page's clock, ms) the browser drew what is measured, seen
# by a MutationObserver as the DOM changes. Polling from Playwright instead adds its round trips to the driver
# (0.4-0.7 s on this 2-core machine for the first page) to what a user would see. textContent, not innerText: it
# costs the page no layout at each change.
MARKS_JS = """(() => {
    window.__marks = {};
    const mark = (name) => { if (!(name in window.__marks)) window.__marks[name] = performance.now(); };
    const check = () => {
        const app = document.querySelector("[data-testid='stApp']");
        const state = app && app.getAttribute("data-test-script-state");
        if (state === "running") mark("running");
        const title = [...document.querySelectorAll("h1")].some(h => h.textContent.includes(TITLE));
        if (title && "running" in window.__marks && state === "notRunning") mark("first_page");
        if ("start_click" in window.__marks) {
            const bar = document.querySelector(PROGRESS);
            const m = bar && bar.textContent.match(/· step ([\\d,]+)\\//);
            if (m && parseInt(m[1].replace(/,/g, "")) > 0) mark("first_step");
            const gd = document.querySelector(CHART);
            if (gd && gd.data && gd.data.some(t => (t.x || []).length > 0)) mark("first_point");
        }
    };
    document.addEventListener("click", (e) => {
        if (e.target.closest(".st-key-train_start")) mark("start_click");
    }, true);
    new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true,
                                                   characterData: true});
})();"""


@dataclass
class Result:
    name: str
    target_s: float | None
    measured_s: float | None
    note: str = ""

    @property
    def ok(self) -> bool | None:
        if self.target_s is None or self.measured_s is None:
            return None
        return self.measured_s <= self.target_s


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare_checkpoints(folder: Path, source: Path) -> Path:
    """folder/default.safetensors: a copy of `source`, or a tiny model trained now when there is none."""
    folder.mkdir(parents=True)
    target = folder / "default.safetensors"
    if source.is_file():
        shutil.copy2(source, target)
        log(f"default model: a copy of {source}")
        return target
    log(f"{source} not found: training a tiny model (784-32-10, 1 epoch) for the measurements ...")
    trained = folder.parent / "trained" / "tiny.safetensors"
    trained.parent.mkdir()
    cmd = [sys.executable, "-m", "fmnist", *TINY_TRAIN, "--out", str(trained)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"training the tiny model failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    shutil.copy2(trained, target)
    return target


def start_checked(proc: subprocess.Popen, url: str, server_log: Path) -> None:
    try:
        wait_healthy(proc, url, server_log, timeout_s=120, every_s=0.01)
    except ServerNotReady as exc:
        raise SystemExit(str(exc)) from None


def check_no_exception(page, where: str) -> None:
    errors = page.locator(EXCEPTION)
    if errors.count():
        raise SystemExit(f"{where}: the page shows an exception:\n" + "\n---\n".join(errors.all_inner_texts()))


def wait_idle(page, settle_ms: int = 150) -> None:
    """The script run the last action started has finished (the pause lets that run begin first)."""
    page.wait_for_timeout(settle_ms)
    page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)


def set_epochs(page, value: int) -> None:
    box = page.locator(".st-key-cfg_epochs input")
    box.fill(str(value))
    box.press("Enter")
    wait_idle(page, 300)
    if box.input_value() != str(value):
        raise SystemExit(f"could not set the epochs to {value} (the box shows {box.input_value()!r})")


def poll_until(page, done: Callable[[dict], bool], what: str, timeout_s: float = TIMEOUT_MS / 1000) -> dict:
    deadline = time.monotonic() + timeout_s
    state: dict = {}
    while time.monotonic() < deadline:
        state = page.evaluate(POLL_JS, [PROGRESS, STEP_CHART])
        if done(state):
            return state
        page.wait_for_timeout(25)
    raise SystemExit(f"timed out waiting for {what}; last state: {state}")


def step_of(state: dict) -> int:
    m = STEP.search(state.get("text", ""))
    return int(m[2].replace(",", "")) if m else 0


def status_of(state: dict) -> str:
    m = STEP.search(state.get("text", ""))
    return m[1] if m else ""


def page_clock(page, mark: str) -> float:
    """When (time.time(), s) the page recorded `mark` (MARKS_JS)."""
    at = page.evaluate(f"() => [performance.timeOrigin, window.__marks[{json.dumps(mark)}]]")
    if at[1] is None:
        raise SystemExit(f"the page recorded no {mark!r}")
    return (at[0] + at[1]) / 1000


def measure_training(page) -> tuple[float, float, str]:
    """(Start -> progress step > 0, Start -> first step-loss chart point, the progress line then)."""
    set_epochs(page, 1)
    page.wait_for_timeout(1000 * SETTLE_S)
    button = page.locator(".st-key-train_start button")
    button.wait_for(state="visible")
    t0 = time.perf_counter()
    button.click()
    first_step = first_point = None
    line = ""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while (first_step is None or first_point is None) and time.monotonic() < deadline:
        state = page.evaluate(POLL_JS, [PROGRESS, STEP_CHART])
        now = time.perf_counter() - t0
        if first_step is None and step_of(state) > 0:
            first_step, line = now, state["text"]
        if first_point is None and state["points"] > 0:
            first_point = now
        if status_of(state) in ("done", "failed"):
            break
        page.wait_for_timeout(25)
    if first_step is None or first_point is None:
        raise SystemExit(f"no training progress in {TIMEOUT_MS / 1000:.0f} s (step at {first_step}, chart at "
                         f"{first_point})")
    # The figures: the page's own moments, from the click to what it drew (the loop above only waits for them).
    clicked = page_clock(page, "start_click")
    first_step, first_point = page_clock(page, "first_step") - clicked, page_clock(page, "first_point") - clicked
    log(f"  first step after {first_step:.2f} s ({line.strip()}), first chart point after {first_point:.2f} s")
    stop_button = page.locator(".st-key-train_stop button")
    if stop_button.is_enabled():
        stop_button.click()
    poll_until(page, lambda s: status_of(s) in ("stopped", "done", "failed"), "the run to stop")
    page.wait_for_timeout(1000)  # the ended run reruns the page (a finished one is saved and made active)
    wait_idle(page)
    check_no_exception(page, "Train")
    return first_step, first_point, line.strip()


def visit(page, title: str) -> float:
    """Sidebar click -> the page's last content visible and its script finished, in seconds."""
    link = page.locator(NAV_LINK, has_text=title)
    t0 = time.perf_counter()
    link.click()
    page.wait_for_url(re.compile(rf"/{PAGE_PATH[title]}$"), timeout=TIMEOUT_MS)
    page.wait_for_selector(PAGE_CONTENT[title], state="visible", timeout=TIMEOUT_MS)
    page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
    elapsed = time.perf_counter() - t0
    check_no_exception(page, title)
    return elapsed


def browser_measurements(checkpoint_dir: Path, work: Path) -> tuple[list[Result], dict]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server_log = work / "streamlit-server.log"
    cmd = [sys.executable, "-m", "ui.server", "--server.port", str(port), "--server.address",
           "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    env = {**os.environ, "FMNIST_CHECKPOINT_DIR": str(checkpoint_dir), "PYTHONUNBUFFERED": "1"}
    results: list[Result] = []
    extra: dict = {}
    with sync_playwright() as pw:
        # The browser is up before the server starts, so its own start-up is not counted.
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(TIMEOUT_MS)
        marks = {"TITLE": TRAIN_TITLE, "PROGRESS": PROGRESS, "CHART": STEP_CHART}
        page.add_init_script(re.sub("|".join(marks), lambda m: json.dumps(marks[m[0]]), MARKS_JS))
        with server_log.open("wb") as out:
            t0 = time.perf_counter()
            # A session of its own, as `make run` has (see tests/browser/conftest.py's streamlit_server).
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        try:
            log(f"server started on {url}")
            start_checked(proc, url, server_log)
            healthy, healthy_at = time.perf_counter() - t0, time.time()
            page.goto(url + "/")
            page.locator("h1", has_text=TRAIN_TITLE).wait_for(state="visible")
            page.wait_for_selector(IDLE)
            first_page = healthy + page_clock(page, "first_page") - healthy_at
            check_no_exception(page, "Train")
            log(f"  healthy after {healthy:.2f} s, Train page rendered after {first_page:.2f} s")
            results.append(Result("App start -> first page rendered", 5.0, first_page,
                                  f"server healthy after {healthy:.2f} s"))
            results.append(Result("Health URL answers -> first page rendered", 2.0, first_page - healthy,
                                  "drawn, by the page's clock; the server warmed up before it answered"))

            log("training (seed preset, 1 epoch) ...")
            first_step, first_point, line = measure_training(page)
            results.append(Result("Start -> first progress step", None, first_step, line))
            results.append(Result("Start -> first chart point", 1.5, first_point,
                                  "drawn, by the page's clock; the spare worker starts after the first page and "
                                  "takes seconds to be ready (--settle S waits before Start)"))
            model = page.locator("[data-testid='stSidebar'] [data-testid='stCaptionContainer']").all_inner_texts()
            extra["active_model_after_stop"] = next((c for c in model if "model" in c.lower()), "")

            for visit_no in (1, 2):
                for title in ("Explore", "Evaluate"):
                    seconds = visit(page, title)
                    log(f"  {title} visit {visit_no}: {seconds:.2f} s")
                    if visit_no == 1:
                        results.append(Result(f"{title} render, first visit (uncached)", None, seconds,
                                              "test-set predictions of the new model computed"))
                    else:
                        results.append(Result(f"{title} render, cached model", 1.0, seconds))
        except Exception:
            log(f"server log ({server_log}):\n{tail(server_log)}")
            raise
        finally:
            browser.close()
            stop(proc)
    return results, extra


def drawing(size: int = 280) -> np.ndarray:
    """A canvas drawing as streamlit-drawable-canvas reports it: white strokes on opaque black, RGBA."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (size, size), (0, 0, 0, 255))
    pen = ImageDraw.Draw(img)
    # A rough T-shirt outline, drawn with the page's default 18 px brush.
    outline = [(90, 40), (40, 80), (60, 120), (85, 105), (85, 240), (195, 240), (195, 105), (220, 120),
               (240, 80), (190, 40), (165, 55), (115, 55), (90, 40)]
    pen.line(outline, fill=(255, 255, 255, 255), width=18, joint="curve")
    return np.asarray(img)


def median_time(fn: Callable[[], object], runs: int = 50, warmup: int = 3) -> tuple[float, float]:
    """(median, 90th percentile) seconds of fn() over `runs` calls."""
    times = call_times(fn, runs, warmup)
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def classification_measurements(default_checkpoint: Path) -> list[Result]:
    import torch

    from fmnist.config import BEST
    from fmnist.data.images import prepare_canvas
    from fmnist.inspect.predict import LocalModel, probabilities
    from fmnist.model.mlp import MLP
    from fmnist.store import checkpoints
    from ui.inspect.prediction_view import classify_canvas, explain

    model = checkpoints.load(default_checkpoint).model()
    local = LocalModel(model)  # in this process: the app's server asks its spare worker for the same
    rgba = drawing()
    img28 = prepare_canvas(rgba)
    described = f"{checkpoints.load(default_checkpoint).config.describe()}, torch threads {torch.get_num_threads()}"
    engine, engine_p90 = median_time(lambda: probabilities(model, prepare_canvas(rgba)))
    app, app_p90 = median_time(lambda: classify_canvas(local, rgba))
    why, why_p90 = median_time(lambda: explain(local, img28))
    big = MLP(BEST).eval()  # the best preset's model (batch norm, dropout), untrained: timing only
    big_app, big_app_p90 = median_time(lambda: classify_canvas(LocalModel(big), rgba))
    big_why, big_why_p90 = median_time(lambda: explain(LocalModel(big), img28))
    return [
        Result("Drawing classified (prepare_canvas + probabilities)", 0.1, engine,
               f"median of 50, p90 {1000 * engine_p90:.1f} ms; {described}"),
        Result("Drawing classified, app path (ui.inspect.prediction_view.classify_canvas)", 0.1, app,
               f"median of 50, p90 {1000 * app_p90:.1f} ms; inference on one thread"),
        Result("Saliency map of the drawing (ui.inspect.prediction_view.explain)", 0.1, why,
               f"median of 50, p90 {1000 * why_p90:.1f} ms; integrated gradients, 32 steps"),
        Result("Drawing classified, app path, best-preset model", 0.1, big_app,
               f"median of 50, p90 {1000 * big_app_p90:.1f} ms; the best preset's layers, untrained"),
        Result("Saliency map, best-preset model", 0.1, big_why, f"median of 50, p90 {1000 * big_why_p90:.1f} ms"),
    ]


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": usable, "python": platform.python_version()}


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 0.01:
        return f"{1000 * seconds:.1f} ms"
    return f"{1000 * seconds:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(results: list[Result]) -> str:
    rows = [("Measure", "Target", "Measured", "OK", "Note")]
    for r in results:
        ok = {True: "yes", False: "NO", None: ""}[r.ok]
        rows.append((r.name, "≤ " + fmt_s(r.target_s) if r.target_s else "–", fmt_s(r.measured_s), ok, r.note))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ----")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "default.safetensors",
                        help="the default model to serve (default: checkpoints/default.safetensors; when missing, "
                             "a tiny model is trained)")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds to wait on the Train page before pressing Start (default 0)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    global SETTLE_S
    SETTLE_S = args.settle
    if not CHROMIUM.is_file():
        raise SystemExit(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (or set FMNIST_CHROMIUM)")

    load_start = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    with tempfile.TemporaryDirectory(prefix="fmnist-speed-") as tmp:
        work = Path(tmp)
        default = prepare_checkpoints(work / "checkpoints", args.checkpoint)
        results, extra = browser_measurements(default.parent, work)  # the stopped run is saved there too
        load_mid = os.getloadavg()
        log("classifying a drawing in-process ...")
        results += classification_measurements(default)
    report = {
        "started": started,
        "command": "python tests/perf/app_speed.py" + (" --json" if args.json else ""),
        "machine": machine(),
        "loadavg_start": [round(v, 2) for v in load_start],
        "loadavg_after_browser": [round(v, 2) for v in load_mid],
        "loadavg_end": [round(v, 2) for v in os.getloadavg()],
        "checkpoint": str(args.checkpoint) if args.checkpoint.is_file() else "tiny model trained for the run",
        **extra,
        "results": [{**asdict(r), "ok": r.ok} for r in results],
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        m = report["machine"]
        print(f"{started}  {m['cpu']}, {m['cores']} cores, Python {m['python']}")
        print("load average (1/5/15 min): start {} / after browser {} / end {}".format(
            *(" ".join(f"{v:.2f}" for v in report[k])
              for k in ("loadavg_start", "loadavg_after_browser", "loadavg_end"))))
        print(f"default model: {report['checkpoint']}; after Stop: {extra.get('active_model_after_stop', '?')}")
        print()
        print(table(results))
    missed = [r.name for r in results if r.ok is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
