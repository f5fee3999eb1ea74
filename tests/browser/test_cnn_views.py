"""A CNN run in a real browser (#36): its Filters and Feature maps tabs change from epoch to epoch, the Network tab
draws the blocks and inspects a channel, and the tabs read in Korean; each tab has no serious axe violation, and on
a phone's width (390 px) none is wider than the screen or cuts a label. The server trains on the small data
(conftest's small_server: 1,000 training images), so the two epochs take seconds. The shipped cnn checkpoint, on
the session's server: a click on the blocks diagram opens a channel, and Explore and Classify draw its maps.
Screenshots for the README."""

from __future__ import annotations

import shutil

from playwright.sync_api import Page, expect

from tests.browser.conftest import assert_no_exception, choose, goto, navigate, shot, wait_idle
from tests.browser.test_a11y import assert_accessible
from tests.browser.test_insight import PLOT, SAVED, SUCCESS, expect_plot, open_tab
from tests.browser.test_layout import problems
from tests.browser.test_small_screen import PHONE, overflow
from tests.helpers import ROOT

RUN_TIMEOUT_MS = 600_000
# Two small blocks (2 and 4 channels) and a 16-unit dense layer, 2 epochs of batches of 64 on the CPU: seconds on the
# small data, and enough steps (16 an epoch) to learn something the screenshots show.
CNN_QUERY = "conv=2,4&hidden=16&optimizer=adam&lr=0.003&batch_size=64&epochs=2&device=cpu&eval_train=false"


def heat_data(page: Page, key: str) -> str:
    """The first heatmap's values in the chart with the given key, as the page holds them (plain lists or Plotly's
    base64 arrays), as text to compare."""
    return page.evaluate("sel => JSON.stringify(document.querySelector(sel).data[0].z)", f".st-key-{key} {PLOT}")


def replay_to_first(page: Page) -> None:
    """Moves the open tab's replay slider from epoch 2 back to epoch 1 with the keyboard."""
    slider = page.get_by_role("slider", name="Replay")
    expect(slider).to_have_attribute("aria-valuetext", "epoch 2")
    slider.focus()
    slider.press("Home")
    expect(slider).to_have_attribute("aria-valuetext", "epoch 1")
    wait_idle(page)


def fits_a_phone(page: Page, tabs: tuple[str, ...]) -> None:
    """Each tab at 390 px: nothing wider than the screen, no label cut, nothing on top of something else."""
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        for label in tabs:
            open_tab(page, label)
            page.wait_for_timeout(500)  # charts redraw at the width they get
            wide, found = overflow(page), problems(page)
            assert not wide and not found, f"the {label} tab at 390 px: {wide} {found}"
    finally:
        page.set_viewport_size(size)


def test_a_cnn_run_shows_its_filters_feature_maps_and_blocks_also_in_korean(page: Page, small_server):
    goto(page, f"{small_server.page_url('Train')}?{CNN_QUERY}")
    start = page.locator(".st-key-train_start button")
    expect(start).to_be_enabled()
    start.click()
    # Its 32 steps take seconds on a quiet machine and minutes on a busy one: the run is waited for, not timed.
    expect(page.locator(SUCCESS).filter(has_text=SAVED).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    tabs = page.get_by_role("tab")
    for label in ("Filters", "Feature maps"):
        expect(tabs.filter(has_text=label)).to_have_count(1)
    expect(tabs.filter(has_text="First layer")).to_have_count(0)

    open_tab(page, "Filters")
    expect_plot(page, "train_filters_0")
    last = heat_data(page, "train_filters_0")
    shot(page, "cnn-filters")
    replay_to_first(page)
    page.wait_for_function("""([sel, v]) => JSON.stringify(document.querySelector(sel).data[0].z) !== v""",
                           arg=[f".st-key-train_filters_0 {PLOT}", last], timeout=30_000)
    assert heat_data(page, "train_filters_0") != last  # the kernels after epoch 1 are not those after epoch 2
    assert_accessible(page, "the Filters tab of a CNN run")

    open_tab(page, "Feature maps")
    for block in (0, 1):
        expect_plot(page, f"train_maps_{block}")
    titles = str(page.evaluate("""() => [...document.querySelectorAll(".js-plotly-plot")].map(
        gd => gd.layout.title && gd.layout.title.text)"""))  # the page wraps titles in <b>
    assert "convolution 1: 2 × 14 × 14" in titles and "convolution 2: 4 × 7 × 7" in titles, titles
    before = heat_data(page, "train_maps_0")
    replay_to_first(page)
    page.wait_for_function("""([sel, v]) => JSON.stringify(document.querySelector(sel).data[0].z) !== v""",
                           arg=[f".st-key-train_maps_0 {PLOT}", before], timeout=30_000)
    shot(page, "cnn-feature-maps")
    assert_accessible(page, "the Feature maps tab of a CNN run")

    open_tab(page, "Network")
    expect_plot(page, "train_net_blocks")
    choose(page, "train_net_channel_block", "convolution 1")
    expect(page.get_by_text("Channel 0 of convolution 1")).to_be_visible()
    assert_no_exception(page)
    shot(page, "cnn-channel-inspector")
    assert_accessible(page, "the Network tab of a CNN run with a channel inspected")

    # The same session in Korean, through the language switch: the run's tabs and charts are redrawn in Korean.
    page.locator(".st-key-lang_switch button", has_text="한국어").click()
    wait_idle(page)
    expect(page.get_by_role("tab", name="필터", exact=True)).to_be_visible()
    expect(page.get_by_role("tab", name="특징 맵", exact=True)).to_be_visible()
    open_tab(page, "필터")
    expect_plot(page, "train_filters_0")
    titles = str(page.evaluate("""() => [...document.querySelectorAll(".js-plotly-plot")].map(
        gd => gd.layout.title && gd.layout.title.text)"""))
    assert "합성곱 1: 커널 2개" in titles, titles
    assert_no_exception(page)
    assert_accessible(page, "the Filters tab of a CNN run, in Korean")
    fits_a_phone(page, ("필터", "특징 맵", "네트워크"))


def dot_position(page: Page, key: str, block: int, channel: int) -> tuple[float, float]:
    """Where on the page the blocks diagram draws a channel's dot (the trace whose customdata holds it), from
    Plotly's own axes."""
    return tuple(page.evaluate("""([sel, b, c]) => { const gd = document.querySelector(sel);
        const t = gd.data.findIndex(d => d.customdata && d.customdata.some(p => p[0] === b && p[1] === c));
        const i = gd.data[t].customdata.findIndex(p => p[0] === b && p[1] === c);
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
        return [box.left + xa._offset + xa.l2p(gd.data[t].x[i]), box.top + ya._offset + ya.l2p(gd.data[t].y[i])];
    }""", [f".st-key-{key} {PLOT}", block, channel]))


def test_a_click_on_a_channel_of_the_blocks_diagram_opens_it_in_the_inspector(page: Page, server):
    shutil.copy2(ROOT / "checkpoints" / "cnn.safetensors", server.checkpoint_dir / "cnn.safetensors")
    goto(page, server.page_url("Models"))
    choose(page, "models_pick", "cnn")
    expect_plot(page, "models_net_blocks", min_traces=2)
    page.locator(".st-key-models_net_blocks").scroll_into_view_if_needed()
    wait_idle(page)
    x, y = dot_position(page, "models_net_blocks", 1, 37)
    page.mouse.click(x, y)
    wait_idle(page)
    expect(page.get_by_text("Channel 37 of convolution 2")).to_be_visible()
    expect(page.locator(".st-key-models_net_channel input")).to_have_value("channel 37")
    assert_no_exception(page)
    shot(page, "cnn-blocks-click")


def test_explore_and_classify_show_the_cnn_s_maps_of_the_image_in_view(page: Page, server):
    shutil.copy2(ROOT / "checkpoints" / "cnn.safetensors", server.checkpoint_dir / "cnn.safetensors")
    goto(page, server.page_url("Models"))
    choose(page, "models_pick", "cnn")
    page.locator(".st-key-models_activate button").first.click()  # help= draws a hidden second copy
    wait_idle(page)
    navigate(page, "Explore")
    for block in (0, 1):
        expect_plot(page, f"explore_maps_{block}")
    titles = str(page.evaluate("""() => [...document.querySelectorAll(".js-plotly-plot")].map(
        gd => gd.layout.title && gd.layout.title.text)"""))
    assert "convolution 1: 32 × 14 × 14" in titles and "convolution 2: 64 × 7 × 7" in titles, titles
    assert_no_exception(page)
    shot(page, "cnn-explore-maps")

    navigate(page, "Classify")
    panel = page.get_by_role("tabpanel")
    canvas = panel.locator("canvas.upper-canvas")
    expect(panel.get_by_role("button", name="Reset canvas & history")).to_be_visible()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 0.35 * box["width"], box["y"] + 0.1 * box["height"])
    page.mouse.down()
    for i in range(1, 25):  # a trouser-like zigzag down the middle, as tests/browser/test_pages.py draws
        page.mouse.move(box["x"] + (0.35 + 0.3 * (i % 2)) * box["width"],
                        box["y"] + (0.1 + 0.8 * i / 24) * box["height"], steps=4)
    page.mouse.up()
    expect_plot(page, "classify_draw_maps_1")
    wait_idle(page)
    assert_no_exception(page)
    shot(page, "cnn-classify-maps")
