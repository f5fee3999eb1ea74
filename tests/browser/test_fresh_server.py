"""A link straight to a page, as the first visit after the server starts (a bookmark, a shared URL)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import NAV_LINK, PAGES, assert_no_exception, goto, streamlit_server


def test_deep_link_before_any_other_visit(page: Page, tmp_path, default_checkpoint):
    with streamlit_server(tmp_path, default_checkpoint) as server:
        goto(page, server.page_url("Classify"))
        # app.py's navigation (its titles, in its order), not one link per file in the folder. Retried: on a slow
        # host the first script run can start after goto's idle wait, while the folder's links are still shown.
        expect(page.locator(NAV_LINK)).to_have_text([re.compile(rf"{t}$") for t in PAGES])
        expect(page.locator(NAV_LINK + "[aria-current='page']")).to_contain_text("Classify")
        assert_no_exception(page)
