"""A link straight to a page, as the first visit after the server starts (a bookmark, a shared URL)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import NAV_LINK, PAGES, assert_no_exception, goto, streamlit_server, wait_idle
from tests.helpers import ROOT

PHOTO = ROOT / "tests" / "fixtures" / "product_photos" / "00004-6-shirt.jpg"


def test_deep_link_before_any_other_visit(page: Page, tmp_path, default_checkpoint):
    with streamlit_server(tmp_path, default_checkpoint) as server:
        goto(page, server.page_url("Classify"))
        # app.py's navigation (its titles, in its order), not one link per file in the folder. Retried: on a slow
        # host the first script run can start after goto's idle wait, while the folder's links are still shown.
        expect(page.locator(NAV_LINK)).to_have_text([re.compile(rf"{t}$") for t in PAGES])
        expect(page.locator(NAV_LINK + "[aria-current='page']")).to_contain_text("Classify")
        assert_no_exception(page)


def maps_torch(pid: int) -> bool:
    """Whether a process has torch's native library mapped, which importing torch does (and nothing undoes)."""
    with open(f"/proc/{pid}/maps") as f:
        return any("libtorch" in line for line in f)


def test_evaluate_explore_and_classify_leave_torch_out_of_the_server(page: Page, tmp_path, default_checkpoint):
    """The first visits of a fresh server's pages that classify: their predictions come from its spare worker, so
    the server never imports torch (about 470 MB it kept for good, issue #39)."""
    with streamlit_server(tmp_path, default_checkpoint) as server:
        goto(page, server.page_url("Evaluate"))
        expect(page.locator(".st-key-evaluate_confusion .js-plotly-plot")).to_be_visible()
        goto(page, server.page_url("Explore"))
        expect(page.locator(".st-key-explore_probs_saliency .js-plotly-plot")).to_be_visible()
        goto(page, server.page_url("Classify"))
        page.get_by_role("tab", name="Upload").click()
        page.locator(".st-key-classify_upload input[type='file']").set_input_files(str(PHOTO))
        expect(page.get_by_text("What the model sees").first).to_be_visible()
        wait_idle(page)
        assert_no_exception(page)
        expect(page.locator(".st-key-classify_upload_probs_saliency .js-plotly-plot")).to_be_visible()
        assert not maps_torch(server.pid)
