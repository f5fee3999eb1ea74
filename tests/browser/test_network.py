"""The network diagram during a run, a click that opens the unit inspector, and Pause + Step, in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import assert_no_exception, goto, shot, wait_idle
from tests.browser.test_insight import PLOT, RUN_TIMEOUT_MS, SAVED, SUCCESS, expect_plot

# 784-48-10 on the CPU, epochs of 235 steps: long enough to be watched while it runs (it is stopped at the end).
QUERY = "hidden=48&optimizer=adam&lr=0.003&batch_size=256&epochs=60&device=cpu"
DIAGRAM = f".st-key-train_net_diagram {PLOT}"
PROGRESS = re.compile(r"(running|paused) · epoch (\d+)/60 · step ([\d,]+)/")


def diagram_title(page: Page) -> str:
    return page.evaluate("""sel => { const gd = document.querySelector(sel);
        return gd && gd.layout && gd.layout.title ? gd.layout.title.text : ""; }""", DIAGRAM)


def progress(page: Page) -> tuple[str, int]:
    text = page.locator("[data-testid='stProgress']").first.inner_text()
    m = PROGRESS.search(text)
    assert m, text
    return m[1], int(m[3].replace(",", ""))


def click_unit(page: Page, column: str, index: int) -> None:
    # The live page redraws the diagram at each epoch: find the unit on a drawn chart, all in one evaluation.
    where = None
    for _ in range(600):
        where = page.evaluate("""([sel, name, i]) => { const gd = document.querySelector(sel);
            const t = gd && gd._fullData && gd._fullLayout && gd._fullData.find(d => d.name === name);
            if (!t) return null;
            gd.scrollIntoView({block: "center"});
            const L = gd._fullLayout, r = gd.getBoundingClientRect();
            const xy = [r.x + L.xaxis._offset + L.xaxis.l2p(t.x[i]), r.y + L.yaxis._offset + L.yaxis.l2p(t.y[i])];
            return xy.every(Number.isFinite) ? xy : null;
        }""", [DIAGRAM, column, index])
        if where:
            break
        page.wait_for_timeout(100)
    if not where:
        shot(page, "network-click-failed")
    assert where, f"no {column} unit drawn"
    page.mouse.click(*where)
    wait_idle(page)


def open_live_tab(page: Page, label: str) -> None:
    """A tab of the live fragment, which redraws every tick: clicks again until the tab is the open one."""
    tab = page.get_by_role("tab", name=label, exact=True)
    for _ in range(20):
        try:
            tab.click(timeout=3000, no_wait_after=True)
        except PlaywrightTimeout:
            pass
        if tab.get_attribute("aria-selected") == "true":
            break
    expect(tab).to_have_attribute("aria-selected", "true")
    wait_idle(page)


def assert_batch_readable(page: Page) -> None:
    """The Step panel's batch: 24 images, each caption whole (nothing cut) and clear of every image (the panel's
    plot had put 9-pixel labels over the next row's images, cut to "Ankle b"). Bounding boxes, not pixels."""
    batch = page.locator(".st-key-train_step_batch")
    expect(batch.locator("img")).to_have_count(24)
    boxes = page.evaluate("""sel => { const root = document.querySelector(sel);
        const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
        return {images: [...root.querySelectorAll("img")].map(box),
                captions: [...root.querySelectorAll("[data-testid='stCaptionContainer']")].map(e => ({
                    box: box(e), cut: e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1}))};
        }""", ".st-key-train_step_batch")
    assert len(boxes["captions"]) == 24 and not [c for c in boxes["captions"] if c["cut"]]
    for c in boxes["captions"]:
        a = c["box"]
        for b in boxes["images"]:
            overlap = min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 1
            assert not overlap, (a, b)


def test_diagram_live_inspector_and_step(page: Page, server):
    goto(page, f"{server.page_url('Train')}?{QUERY}")
    page.locator(".st-key-train_start button").click()
    expect(page.get_by_role("tab", name="Network", exact=True)).to_be_visible(timeout=RUN_TIMEOUT_MS)
    open_live_tab(page, "Network")
    page.wait_for_function("sel => { const gd = document.querySelector(sel); return gd && gd.layout && "
                           "/after epoch \\d/.test(gd.layout.title.text); }", arg=DIAGRAM, timeout=RUN_TIMEOUT_MS)
    first = diagram_title(page)
    assert progress(page)[0] == "running", "the diagram must appear while the run goes on"
    # It redraws at the next epoch.
    page.wait_for_function("([sel, t]) => { const gd = document.querySelector(sel); return gd && gd.layout && "
                           "gd.layout.title.text !== t; }", arg=[DIAGRAM, first], timeout=RUN_TIMEOUT_MS)
    epoch = re.compile(r"after epoch (\d+)")
    assert int(epoch.search(diagram_title(page))[1]) > int(epoch.search(first)[1])

    page.locator(".st-key-train_pause button").click()
    wait_idle(page)
    expect(page.locator(".st-key-train_step button").first).to_be_visible()
    page.wait_for_timeout(1500)  # the live fragment's next tick shows the step the run paused at
    click_unit(page, "hidden 1", 2)
    expect(page.get_by_text(re.compile(r"Unit \d+ of hidden 1"))).to_be_visible()
    for part in ("in", "cls", "top"):  # the clicked unit's incoming weights, class means and top images
        expect(page.locator(f"[class*='st-key-inspect_{part}_1_'] {PLOT}").first).to_be_visible()
    assert_no_exception(page)
    shot(page, "network-inspector")
    # The progress line shows the last published step (one in 25), so the first Step also brings it up to date;
    # from then on each Step adds exactly one.
    counts = []
    for _ in range(2):
        page.locator(".st-key-train_step button").first.click()
        wait_idle(page)
        expect(page.get_by_text("Batch loss after")).to_be_visible()
        page.wait_for_timeout(1500)
        status, count = progress(page)
        assert status == "paused"
        counts.append(count)
    assert counts[1] == counts[0] + 1, counts
    assert_batch_readable(page)
    expect_plot(page, "train_step_change")
    assert_no_exception(page)
    shot(page, "network-step")

    open_live_tab(page, "Health")
    expect_plot(page, "train_net_health_figure")
    shot(page, "network-health")
    page.locator(".st-key-train_resume button").click()
    wait_idle(page)
    page.locator(".st-key-train_stop button").click()
    expect(page.locator(SUCCESS).filter(has_text=SAVED).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert_no_exception(page)
