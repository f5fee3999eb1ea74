"""Training from the Train page in a real browser: the live charts stream while a run goes on (also while the user
is on another page), a finished run is saved and announced, and Pause, Resume and Stop act on the worker."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from playwright.sync_api import Page, expect

from fmnist.store import checkpoints
from tests.browser.conftest import assert_no_exception, choose, goto, navigate, shot, wait_idle
from ui.session import poll_every

PROGRESS = "[data-testid='stProgress']"
STEP_CHART = ".st-key-train_chart_steps .js-plotly-plot"
SUCCESS = "[data-testid='stAlertContentSuccess']"
TOAST = "[data-testid='stToast']"
_PROGRESS = re.compile(r"(?P<status>\w+) · epoch (?P<epoch>\d+)/(?P<epochs>\d+) · "
                       r"step (?P<step>[\d,]+)/(?P<total>[\d,]+)")
SAVED = re.compile(r"saved as (\S+) \(", re.IGNORECASE)  # no named groups: Playwright hands it to JavaScript
RUN_TIMEOUT_MS = 180_000  # a whole tiny run on a busy two-core machine


@dataclass(frozen=True)
class Progress:
    status: str
    epoch: int
    epochs: int
    step: int
    total: int


def progress(page: Page) -> Progress | None:
    """The run's progress line ("running · epoch 1/2 · step 25/236"), or None while there is none."""
    texts = page.locator(PROGRESS).all_inner_texts()
    return parse_progress(texts[0]) if texts else None


def parse_progress(text: str) -> Progress | None:
    m = _PROGRESS.search(text)
    if m is None:
        return None
    return Progress(m["status"], int(m["epoch"]), int(m["epochs"]), int(m["step"].replace(",", "")),
                    int(m["total"].replace(",", "")))


def chart_points(page: Page) -> int:
    """Points in the step-loss chart's first trace (the current run's raw loss), 0 before it has any."""
    return page.evaluate("""sel => { const gd = document.querySelector(sel);
        return gd && gd.data && gd.data.length ? gd.data[0].x.length : 0; }""", STEP_CHART)


def count_script_runs(page: Page) -> None:
    """Counts, from now on, the script runs (the live fragment's included) the page goes through."""
    page.evaluate("""() => {
        const app = document.querySelector("[data-testid='stApp']");
        window.__scriptRuns = 0;
        new MutationObserver(() => { if (app.dataset.testScriptState === "running") window.__scriptRuns++; })
            .observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
    }""")


def script_runs(page: Page) -> int:
    return page.evaluate("() => window.__scriptRuns")


LIVE_CHARTS = ("train_chart_steps", "train_chart_loss", "train_chart_acc", "train_insight_classes")


def count_chart_draws(page: Page) -> None:
    """Counts, from now on, how often each live chart is drawn: Streamlit mounts a new plotly div for every new
    figure, and plotly.js fires plotly_afterplot on it for every draw (twice when its margins had to grow)."""
    page.evaluate("""keys => {
        window.__chartDraws = Object.fromEntries(keys.map(k => [k, 0]));
        window.__chartTimer = setInterval(() => keys.forEach(k => {
            const gd = document.querySelector(`.st-key-${k} .js-plotly-plot`);
            if (gd && gd.on && !gd.__counted) {
                gd.__counted = true;
                gd.on("plotly_afterplot", () => window.__chartDraws[k]++);
            }
        }), 10);
    }""", list(LIVE_CHARTS))


def chart_draws(page: Page, stop: bool = True) -> dict[str, int]:
    """The draws counted so far; `stop` ends the counting."""
    if not stop:
        return page.evaluate("() => ({...window.__chartDraws})")
    return page.evaluate("() => { clearInterval(window.__chartTimer); return window.__chartDraws; }")


def chart_margins(page: Page) -> dict[str, tuple[list, list]]:
    """Each live chart's margins as its figure asks (l, r, t, b) and as plotly.js drew them."""
    return page.evaluate("""keys => Object.fromEntries(keys.map(k => {
        const gd = document.querySelector(`.st-key-${k} .js-plotly-plot`);
        if (!gd || !gd._fullLayout) return [k, null];
        const m = gd.layout.margin || {}, s = gd._fullLayout._size;
        return [k, [[m.l, m.r, m.t, m.b], [s.l, s.r, s.t, s.b].map(Math.round)]];
    }))""", list(LIVE_CHARTS))


def wait_progress(page: Page, predicate, what: str, timeout_ms: int = RUN_TIMEOUT_MS) -> Progress:
    deadline = time.monotonic() + timeout_ms / 1000
    p = None
    while time.monotonic() < deadline:
        p = progress(page)
        if p is not None and predicate(p):
            return p
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}; last progress: {p}")


def set_number(page: Page, key: str, value: int) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(str(value))
    box.press("Enter")
    wait_idle(page)
    expect(box).to_have_value(str(value))


def set_lr(page: Page, target: float) -> None:
    """The learning-rate select_slider moves one grid step per arrow key."""
    slider = page.locator(".st-key-cfg_lr input[type='range']")
    for _ in range(30):
        current = float(slider.get_attribute("aria-valuetext"))
        if math.isclose(current, target):
            break
        slider.press("ArrowLeft" if current > target else "ArrowRight")
        wait_idle(page)
    expect(slider).to_have_attribute("aria-valuetext", f"{target:g}")


def set_tiny_config(page: Page, epochs: int, width: int = 32) -> None:
    """784-WIDTH-10, adam, lr 3e-3, batch 512 on the CPU: a run of seconds on an idle machine."""
    set_number(page, "cfg_layers", 1)
    expect(page.locator(".st-key-cfg_w1")).to_have_count(0)
    set_number(page, "cfg_w0", width)
    choose(page, "cfg_optimizer", "adam")
    set_lr(page, 3e-3)
    set_number(page, "cfg_batch_size", 512)
    set_number(page, "cfg_epochs", epochs)
    choose(page, "cfg_device", "cpu")
    expect(page.locator(".st-key-train_start button")).to_be_enabled()


# The same tiny run as a shared link (ui/train/share.py): what differs from the seed preset, as query parameters.
TINY_QUERY = "hidden=32&optimizer=adam&lr=0.003&batch_size=512&device=cpu"


def open_tiny_config(page: Page, server, epochs: int) -> None:
    """Opens Train on a link that fills the form, then checks the form shows the link's settings."""
    goto(page, f"{server.page_url('Train')}?{TINY_QUERY}&epochs={epochs}")
    for key, value in (("cfg_layers", "1"), ("cfg_w0", "32"), ("cfg_optimizer", "adam"), ("cfg_batch_size", "512"),
                       ("cfg_epochs", str(epochs)), ("cfg_device", "cpu")):
        expect(page.locator(f".st-key-{key} input").first, f"{key} from the link").to_have_value(value)
    expect(page.locator(".st-key-cfg_lr input[type='range']")).to_have_attribute("aria-valuetext", "0.003")
    expect(page.locator(".st-key-train_start button")).to_be_enabled()


def start(page: Page) -> None:
    page.locator(".st-key-train_start button").click()
    wait_progress(page, lambda p: p.status == "running", "the run to start", 60_000)


def saved_name(page: Page) -> str:
    """Waits for the "Saved as <name> (...)" message and returns the checkpoint's name."""
    success = page.locator(SUCCESS).filter(has_text=SAVED)
    # While the page redraws, the message of the previous script run can linger beside the new one.
    expect(success.first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    expect(success, "one success message once the page has settled").to_have_count(1)
    return SAVED.search(success.inner_text())[1]


def test_run_streams_and_finishes_while_exploring(page: Page, server):
    before = server.checkpoints()
    goto(page, server.page_url("Train"))
    # Wide and long enough (several seconds even on an idle machine) to be watched while it runs.
    set_tiny_config(page, epochs=10, width=256)
    start(page)

    # The live fragment redraws the chart while the run goes on: see at least two of its states, the later one further
    # on in the run (the chart may gain a point from a tick whose progress line a slow worker has not moved on yet).
    seen: list[tuple[int, Progress]] = []
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while (len(seen) < 2 or seen[-1][1].step <= seen[0][1].step) and time.monotonic() < deadline:
        p, n = progress(page), chart_points(page)
        if p is not None and p.status in ("done", "stopped", "failed"):
            break
        if p is not None and p.status == "running" and n and (not seen or n > seen[-1][0]):
            seen.append((n, p))
        page.wait_for_timeout(100)
    assert len(seen) >= 2, f"the step chart did not update while running: {seen}, last progress {progress(page)}"
    assert seen[-1][1].step > seen[0][1].step

    # Another page meanwhile: the run goes on in its worker thread.
    navigate(page, "Explore")
    expect(page.locator(".st-key-explore_true")).to_be_visible()
    expect(page.get_by_text(re.compile(r"test images match"))).to_be_visible()
    assert_no_exception(page)
    shot(page, "train-meanwhile-explore")

    navigate(page, "Train")
    name = saved_name(page)
    expect(page.locator(TOAST).filter(has_text=f"Saved as {name}")).to_be_visible()
    done = progress(page)
    assert done is not None and done.status == "done" and done.step == done.total and done.epoch == 10, done
    assert name in server.checkpoints() - before
    assert (server.checkpoint_dir / f"{name}.safetensors").stat().st_size > 0
    expect(page.get_by_test_id("stSidebar")).to_contain_text(f"Active model: {name}")
    assert chart_points(page) > seen[-1][0]
    assert_no_exception(page)
    shot(page, "train-finished")

    # Models lists the new file, picked as this session's active model.
    navigate(page, "Models")
    expect(page.locator(".st-key-models_pick input")).to_have_value(name)
    assert_no_exception(page)


def test_pause_resume_stop(page: Page, server):
    before = server.checkpoints()
    # Set up from a shared link, quicker than the form (which the test above fills in by hand).
    open_tiny_config(page, server, epochs=200)  # far longer than the test keeps it running
    start(page)
    wait_progress(page, lambda p: p.status == "running" and p.epoch >= 2, "the first epoch to end")

    # What a running page costs its browser: one script run a polling tick, and each chart drawn once a chart
    # update (the charts keep their figure between updates, and their margins already fit, so no second draw).
    tick, every = poll_every(1)
    count_script_runs(page)
    count_chart_draws(page)
    t0 = time.monotonic()
    page.wait_for_timeout(4_000)
    # A worker slowed by a busy machine may publish no new step for a while (an epoch's end evaluates three sets):
    # watch on until the step chart has been drawn again, for up to 30 s; the bounds below scale with the window.
    while chart_draws(page, stop=False)["train_chart_steps"] == 0 and time.monotonic() - t0 < 30:
        page.wait_for_timeout(500)
    runs, draws, window = script_runs(page), chart_draws(page), time.monotonic() - t0
    assert progress(page).status == "running"
    assert runs <= window / tick + 2, f"{runs} script runs in {window:.1f} s: more than one a {tick} s tick"
    assert draws["train_chart_steps"] >= 1, f"the step chart was not drawn again in {window:.1f} s: {draws}"
    assert max(draws.values()) <= window / every + 2, f"charts drawn in {window:.1f} s: {draws}"
    for key, (asked, drawn) in chart_margins(page).items():
        assert asked == drawn, f"{key}: margins {asked} grew to {drawn}, which makes plotly.js draw it twice"

    page.locator(".st-key-train_pause button").click()
    wait_progress(page, lambda p: p.status == "paused", "the run to pause", 60_000)
    expect(page.locator(".st-key-train_resume button")).to_be_enabled()
    expect(page.locator(".st-key-train_pause button")).to_be_disabled()
    page.wait_for_timeout(600)  # a step already under way when Pause came may still report
    held = progress(page)
    count_script_runs(page)
    page.wait_for_timeout(2_000)
    still = progress(page)
    # Only a page that kept polling could have shown a step that moved on.
    assert script_runs(page) >= 2, "the Train page stopped polling while paused"
    assert held.status == still.status == "paused", (held, still)
    assert still.step == held.step, f"the step moved on while paused: {held.step} -> {still.step}"
    shot(page, "train-paused")

    page.locator(".st-key-train_resume button").click()
    wait_progress(page, lambda p: p.status == "running" and p.step > held.step, "the run to resume and go on")

    page.locator(".st-key-train_stop button").click()
    name = saved_name(page)
    stopped = progress(page)
    assert stopped.status == "stopped" and stopped.step < stopped.total, stopped
    expect(page.locator(SUCCESS)).to_contain_text("Stopped early")
    assert name in server.checkpoints() - before
    for key in ("pause", "resume", "stop"):
        expect(page.locator(f".st-key-train_{key} button")).to_be_disabled()
    expect(page.locator(".st-key-train_start button")).to_be_enabled()
    assert_no_exception(page)
    shot(page, "train-stopped")


LOSS_CHART = ".st-key-train_chart_loss .js-plotly-plot"
ACC_CHART = ".st-key-train_chart_acc .js-plotly-plot"


def trace_names(page: Page, selector: str) -> list[str]:
    return page.evaluate("sel => (document.querySelector(sel)?.data || []).map(t => t.name)", selector)


def annotations(page: Page, selector: str) -> list[str]:
    return page.evaluate("sel => (document.querySelector(sel)?.layout?.annotations || []).map(a => a.text)", selector)


def test_validation_split_and_a_mid_run_learning_rate_change(page: Page, server):
    before = server.checkpoints()
    goto(page, f"{server.page_url('Train')}?{TINY_QUERY}&epochs=200&val_size=5000&keep_best=true")
    expect(page.locator(".st-key-cfg_val_size input")).to_have_value("5000")
    start(page)
    wait_progress(page, lambda p: p.status == "running" and p.epoch >= 2, "the first epoch to end")
    # Train / validation / test after the first epoch.
    deadline = time.monotonic() + 30
    while trace_names(page, LOSS_CHART) != ["train", "test", "validation"] and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert trace_names(page, LOSS_CHART) == ["train", "test", "validation"]
    # The form starts from the seed preset, which also scores the training set in eval mode, as the notebook does.
    assert trace_names(page, ACC_CHART) == ["train", "train (eval mode)", "test", "validation"]

    # Halve the learning rate while it runs: the step chart marks it at once.
    slider = page.locator(".st-key-train_lr_scale input[type='range']")
    slider.press("ArrowLeft")
    wait_idle(page)
    expect(slider).to_have_attribute("aria-valuetext", "×0.5")
    before_click = progress(page)
    page.locator(".st-key-train_lr_apply button").click()
    expect(page.locator(TOAST).filter(has_text="Learning rate ×0.5 from the next step")).to_be_visible()
    changed_at = progress(page)
    deadline = time.monotonic() + 60
    while "lr ×0.5" not in annotations(page, STEP_CHART) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert "lr ×0.5" in annotations(page, STEP_CHART)
    wait_progress(page, lambda p: p.epoch > changed_at.epoch, "an epoch at the new learning rate")

    page.locator(".st-key-train_stop button").click()
    name = saved_name(page)
    assert name in server.checkpoints() - before
    meta = checkpoints.read_meta(server.checkpoint_dir / f"{name}{checkpoints.SUFFIX}")
    assert meta["config"]["val_size"] == 5000 and meta["config"]["keep_best"] is True
    assert meta["history"] and all(e["val_acc"] is not None for e in meta["history"])
    assert 1 <= meta["best_epoch"] <= len(meta["history"])  # chosen on validation accuracy
    assert [c["scale"] for c in meta["lr_changes"]] == [0.5]
    # A page shows the last step published (every 25): the change came after what showed before the click and at
    # most one publication after what showed once it was confirmed.
    assert before_click.step <= meta["lr_changes"][0]["step"] <= changed_at.step + 26, (before_click, changed_at)
    # After the run, the marks are the trainer's own record, at the exact step.
    expect(page.locator(SUCCESS)).to_contain_text("Stopped early")
    assert "lr ×0.5" in annotations(page, STEP_CHART)
    assert_no_exception(page)
    shot(page, "train-validation-lr-change")
