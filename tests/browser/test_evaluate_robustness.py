"""The Evaluate page's shift and rotation chart (#36) in a real browser: the active model and a second checkpoint
picked in the chooser, measured by the server's thread, drawn one line a model with the figures the engine gives for
those files, and a caption that says them; the same in Korean, accessible, and on a phone's width. The server is
conftest's small_server (300 test images), and both models are tiny, so the 39 passes take seconds.
Screenshots: evaluate-robustness.png, evaluate-robustness-ko.png."""

from __future__ import annotations

import pytest
import torch
from playwright.sync_api import Page, expect

from fmnist.data.dataset import load_dataset, normalize
from fmnist.inspect.robustness import ROTATIONS, SHIFTS, measure
from fmnist.store import checkpoints
from tests.browser.conftest import assert_no_exception, goto, shot, wait_idle
from tests.browser.test_a11y import assert_accessible
from tests.browser.test_layout import problems
from tests.browser.test_small_screen import PHONE, overflow
from tests.helpers import TINY_CNN, train_to_done
from ui.inspect.robustness_charts import robustness_summary

OTHER = "tiny-cnn"
CHART = ".st-key-evaluate_robust_chart .js-plotly-plot"
MEASURE_TIMEOUT_MS = 600_000  # 39 passes of two tiny models over 300 images, on a busy two-core machine
SECTION = ("[data-testid='stHeading']:has-text('{header}'), .st-key-evaluate_robust_chart, "
           "[data-testid='stCaptionContainer']:has-text('{caption}')")


@pytest.fixture(scope="module")
def models(small_server, small_data) -> dict[str, dict]:
    """A tiny CNN trained on the server's small data, saved beside the default (a tiny MLP); each model's figures
    as the engine measures them on the server's test images, one thread as the server's measuring thread uses."""
    small = load_dataset(small_data)
    result = train_to_done(TINY_CNN.replace(batch_size=64, epochs=3), small)[1]  # 48 steps: a CNN that has learned
    checkpoints.CheckpointStore(small_server.checkpoint_dir).save(OTHER, result.model,
                                                                  checkpoints.run_meta(result, "tests"))
    x, y = normalize(small.test_images), small.test_labels
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = {}
        for name in (checkpoints.DEFAULT_NAME, OTHER):
            model = checkpoints.load(small_server.checkpoint_dir / f"{name}{checkpoints.SUFFIX}").model()
            out[name] = {(m.kind, float(m.amount)): m.accuracy for m in measure(model, x, y)}
        return out
    finally:
        torch.set_num_threads(threads)


def traces(page: Page) -> list[dict]:
    return page.evaluate("""sel => document.querySelector(sel).data.map(
        t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))""", CHART)


def test_the_shift_chart_compares_two_models_also_in_korean(page: Page, small_server, models):
    goto(page, small_server.page_url("Evaluate"))
    box = page.locator(".st-key-evaluate_robust_models input")
    box.scroll_into_view_if_needed()
    box.click()
    page.get_by_role("option", name=OTHER, exact=True).click()
    page.keyboard.press("Escape")
    wait_idle(page)
    start = page.locator(".st-key-evaluate_robust_start button").first  # help= draws it twice, one hidden
    expect(start).to_contain_text("Measure 2 models")
    start.click()
    # The figures arrive one shift or rotation at a time; the page reruns once the last has.
    page.wait_for_function("""sel => { const gd = document.querySelector(sel);
        return gd && gd.data.length === 4 && gd.data.every(t => t.y.length === t.x.length); }""", arg=CHART,
                           timeout=MEASURE_TIMEOUT_MS)
    expect(page.get_by_text("Measuring:")).to_have_count(0, timeout=MEASURE_TIMEOUT_MS)
    wait_idle(page)
    assert_no_exception(page)

    drawn = traces(page)
    assert [t["name"] for t in drawn] == [checkpoints.DEFAULT_NAME] * 2 + [OTHER] * 2  # one line a model and test
    for t, (name, kind, amounts) in zip(drawn, [(n, k, a) for n in models for k, a in
                                                (("shift", SHIFTS), ("rotation", ROTATIONS))]):
        assert t["x"] == list(amounts)
        assert t["y"] == pytest.approx([models[name][(kind, float(a))] for a in amounts]), (name, kind)
    summary = robustness_summary(models)
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text=summary)).to_have_count(1)
    assert_accessible(page, "Evaluate with the shift chart of two models")
    shot(page, "evaluate-robustness",
         of=page.locator(SECTION.format(header="Moved and turned images", caption="on the test images as they are")))

    # Korean: the same figures (measured once on this server), under Korean words.
    page.locator(".st-key-lang_switch button", has_text="한국어").click()
    wait_idle(page)
    expect(page.locator(CHART)).to_be_visible()
    assert [t["y"] for t in traces(page)] == [t["y"] for t in drawn]
    plain = f"{models[OTHER][('shift', 0.0)]:.1f}%"
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text=plain)
    expect(caption).to_have_count(1)
    assert "on the test images" not in caption.inner_text()
    assert_accessible(page, "Evaluate with the shift chart of two models, in Korean")
    expect(page.get_by_role("heading", name="옮기고 돌린 이미지")).to_be_visible()
    shot(page, "evaluate-robustness-ko", of=page.locator(SECTION.format(header="옮기고 돌린 이미지", caption=plain)))

    # A phone's width: the chart fits and nothing is cut or on top of something else.
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)
    assert not overflow(page), overflow(page)
    assert not problems(page), problems(page)
