"""Every page on a phone's screen (390 x 844 CSS pixels): the sidebar folds away, the main area does not scroll
sideways and every chart fits the screen.

A screenshot of each page goes to test-artifacts/screenshots/<page>-390.png; with FMNIST_DOCS_SCREENSHOTS=1 also to
docs/screenshots/<page>-390.png, the copies the docs show (make them on a quiet machine and commit them).
"""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PAGES, ROOT, goto, shot
from tests.browser.test_pages import PAGE_CONTENT

PHONE = {"width": 390, "height": 844}
DOCS = ROOT / "docs" / "screenshots"


@pytest.fixture
def phone(browser: Browser) -> Page:
    """A page in a browser context of its own with a phone-sized viewport."""
    context = browser.new_context(viewport=PHONE)
    try:
        yield context.new_page()
    finally:
        context.close()


def overflow(page: Page) -> dict:
    """What is wider than it may be: the main area's sideways scrolling, and charts wider than the screen or
    reaching past its right edge."""
    return page.evaluate("""() => {
        const out = {};
        for (const id of ["stMain", "stAppViewContainer", "stMainBlockContainer"]) {
            const e = document.querySelector(`[data-testid='${id}']`);
            if (e && e.scrollWidth > e.clientWidth + 1) out[id] = [e.scrollWidth, e.clientWidth];
        }
        const d = document.documentElement;
        if (d.scrollWidth > d.clientWidth + 1) out.document = [d.scrollWidth, d.clientWidth];
        const w = window.innerWidth;
        out.charts = [...document.querySelectorAll("[data-testid='stMain'] .js-plotly-plot")].map(gd => {
            const r = gd.getBoundingClientRect();
            const keyed = gd.closest("[class*='st-key-']");
            const key = keyed ? [...keyed.classList].find(c => c.startsWith("st-key-")) : "(no key)";
            return {key, width: Math.round(r.width), right: Math.round(r.right)};
        }).filter(c => c.width > w || c.right > w + 1);
        if (!out.charts.length) delete out.charts;
        return out;
    }""")


@pytest.mark.parametrize("title", list(PAGES))
def test_page_fits_a_phone(phone: Page, server, title):
    goto(phone, server.page_url(title))
    expect(phone.locator(PAGE_CONTENT[title]).first).to_be_attached()
    # Streamlit folds the sidebar away on a narrow screen: the main area has the whole width.
    expect(phone.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
    phone.wait_for_timeout(500)  # charts draw, and redraw at the width they get
    wide = overflow(phone)
    name = PAGES[title] or "playground"
    path = shot(phone, f"{name}-390", sidebar=False)
    if os.environ.get("FMNIST_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, DOCS / path.name)
    assert not wide, f"{title} at 390 px is wider than the screen: {wide}"
