"""Charts whose own controls could sit on their text, drawn by Plotly in Chromium at a wide page's and a phone's
width, in English and Korean: the learned space's replay (play and pause over the slider's "epoch 20") is only shown
after a run, so it is drawn here on its own, from the figure the Train page sends."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import Page

from tests.browser.test_layout import problems
from ui import i18n
from ui.inspect.explain_charts import projection_animation

# The width the chart gets in the Train page's main area at 1400 px, and on a 390 px phone.
CHART_WIDTHS = (1050, 350)
EPOCHS = 20


def replay_figure():
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 10
    frames = [rng.normal(size=(200, 2)) * (1 + e / EPOCHS) for e in range(EPOCHS)]
    return projection_animation(frames, labels)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_replay_buttons_leave_the_slider_readable(page: Page, monkeypatch, lang):
    monkeypatch.setattr(i18n, "current", lambda: lang)
    fig = replay_figure()
    found = {}
    for width in CHART_WIDTHS:
        page.set_content(fig.to_html(include_plotlyjs=True, full_html=True, default_width=f"{width}px"))
        page.wait_for_selector(".js-plotly-plot .slider-container")
        # Plotly settles its automatic margins in later redraws: measure the final layout, not the first draw (a busy
        # CI machine measured the first and found the buttons over the axis title).
        page.evaluate("() => Plotly.relayout(document.querySelector('.js-plotly-plot'), {})")
        found[width] = problems(page)
    assert not any(found.values()), found
