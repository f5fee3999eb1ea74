"""Labels that Streamlit's and the drawing canvas's own scripts write in English (the "?" icons' aria-label, the
canvas toolbar's tooltips) read in Korean on a Korean page, and the page says it is Korean (<html lang="ko">)."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.conftest import goto

# Every aria-label and title of the page and of its frames of the same origin.
LABELS = """() => {
    const roots = [document];
    for (let i = 0; i < roots.length; i++) {
        roots[i].querySelectorAll("*").forEach(e => {
            if (e.shadowRoot) roots.push(e.shadowRoot);
            if (e.tagName === "IFRAME") { try { if (e.contentDocument) roots.push(e.contentDocument); } catch (x) {} }
        });
    }
    return {lang: document.documentElement.lang, labels: roots.flatMap(d => [...d.querySelectorAll(
        "[aria-label], [title]")].flatMap(e => [e.getAttribute("aria-label"), e.getAttribute("title")])
        .filter(v => v))};
}"""


def test_browser_made_labels_read_in_korean(page: Page, server):
    goto(page, f"{server.page_url('Classify')}?lang=ko")
    page.locator("[data-testid='stTooltipIcon']").first.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('iframe')].every(f => { try { return "
                           "f.contentDocument.readyState === 'complete'; } catch (e) { return true; } })")
    page.wait_for_timeout(500)
    found = page.evaluate(LABELS)
    assert found["lang"] == "ko"
    english = [v for v in found["labels"] if v.startswith("Help") or v in (
        "Undo", "Reset canvas & history", "Update the app with this drawing", "Collapse sidebar", "App pages")]
    assert not english, english
    assert any(v.endswith(" 도움말") for v in found["labels"]), found["labels"]
    assert "실행 취소" in found["labels"] and "캔버스와 기록 지우기" in found["labels"], found["labels"]
