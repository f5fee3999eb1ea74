"""The cnn preset trained from the Train page in a real browser (issue #35): chosen from the preset list (in Korean),
the convolution section shows its two blocks, the summary its shapes, and the run streams its live charts to the end;
switched to English mid-page and back, the finished run's charts stay. One epoch instead of the preset's four (the
only change), to keep the suite short. Screenshots: cnn-run.png, cnn-run-ko.png."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import choose, goto, shot, wait_idle
from tests.browser.test_training_run import STEP_CHART, chart_points, saved_name, set_number, wait_progress

CNN_RUN_TIMEOUT_MS = 600_000  # one CNN epoch of 60,000 images on a busy two-core machine


def test_the_cnn_preset_trains_with_live_charts_in_korean(page: Page, server):
    goto(page, server.page_url("Train") + "?lang=ko")
    choose(page, "cfg_preset", "합성곱 신경망 (cnn)")
    expect(page.locator(".st-key-cfg_blocks input")).to_have_value("2")
    expect(page.locator(".st-key-cfg_c0 input")).to_have_value("32")
    expect(page.locator(".st-key-cfg_c1 input")).to_have_value("64")
    set_number(page, "cfg_epochs", 1)
    main = page.locator("[data-testid='stMain']")
    expect(main).to_contain_text("1x28x28 → 32x28x28")  # the summary's shape after the first block, before its pooling
    page.locator(".st-key-lang_switch button", has_text="English").click()  # the progress line's words, read below
    wait_idle(page)
    page.locator(".st-key-train_start button").click()
    wait_progress(page, lambda p: p.status in ("running", "done"), "the run to start", 120_000)
    wait_progress(page, lambda p: p.step > 0, "a first step", CNN_RUN_TIMEOUT_MS)
    done = wait_progress(page, lambda p: p.status in ("done", "stopped", "failed"), "the run to end",
                         CNN_RUN_TIMEOUT_MS)
    assert done.status == "done" and done.epoch == 1, done
    assert chart_points(page) > 10  # the step-loss chart streamed its points
    expect(page.locator(STEP_CHART)).to_be_visible()
    expect(page.locator(".st-key-train_chart_acc .js-plotly-plot").first).to_be_visible()
    assert saved_name(page)
    shot(page, "cnn-run")
    page.locator(".st-key-lang_switch button", has_text="한국어").click()
    wait_idle(page)
    expect(page.locator("h1")).to_contain_text("신경망 학습하기")
    expect(page.locator(".st-key-train_chart_acc .js-plotly-plot").first).to_be_visible()
    shot(page, "cnn-run-ko")
