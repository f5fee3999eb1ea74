"""Accessibility in a real browser: axe-core finds no serious or critical violation on any page, also in the states
a learner gets to (a finished run, a picked image or confusion cell, an upload), and the Train page works from the
keyboard alone."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from fmnist.data.dataset import CLASSES
from tests.browser.conftest import PAGES, assert_no_exception, choose, goto, wait_idle
from tests.browser.test_pages import PAGE_CONTENT
from tests.browser.test_training_run import TINY_QUERY, saved_name, wait_progress
from ui.style import CAPTION_COLOR

BLOCKING = ("serious", "critical")

# Violations inside Streamlit's own markup that no app code or theme setting reaches, each by rule and by a selector
# as narrow as the markup allows. axe reports a node by its CSS path; a violation is skipped only when every one of
# its nodes is matched here.
STREAMLIT_INTERNAL: dict[str, tuple[str, ...]] = {
    # st.toast draws role="alertdialog" with aria-labelledby pointing at an id (react-aria's) that is not on the
    # page, so the dialog has no name; the toast's text is the app's, its markup Streamlit's (1.67).
    "aria-dialog-name": ('data-testid="stToast"',),
}

_axe = Axe()


def violations(page: Page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now, less the known Streamlit-internal ones."""
    # The content a test waited for may have appeared while the script still ran: let it end, then let charts and
    # images finish drawing.
    wait_idle(page)
    page.wait_for_timeout(300)
    captions_styled(page)
    found = _axe.run(page).response["violations"]
    minor = [v for v in found if v["impact"] not in BLOCKING]
    if minor:  # not failures, but worth fixing: shown with pytest -s
        print(f"\naxe-core, moderate and minor on {page.url}:\n{describe(minor)}")
    kept = []
    for v in found:
        if v["impact"] not in BLOCKING:
            continue
        nodes = [n for n in v["nodes"] if not _internal(v["id"], n)]
        if nodes:
            kept.append({**v, "nodes": nodes})
    return kept


def captions_styled(page: Page) -> None:
    """Waits until the page's captions wear ui/style.py's colour. app.py adds that CSS at every run, but a CI run once
    had axe read the Models page while its captions still had Streamlit's own faded grey (3.9:1): a moment of the
    page's drawing, not a state a learner stays in. A page that never gets the colour fails here, by name."""
    want = "rgb({}, {}, {})".format(*(int(CAPTION_COLOR[i:i + 2], 16) for i in (1, 3, 5)))
    try:
        page.wait_for_function(
            """(want) => [...document.querySelectorAll("[data-testid='stCaptionContainer']")]
                            .every((el) => getComputedStyle(el).color === want)""",
            arg=want, timeout=10_000)
    except PlaywrightTimeout:
        pytest.fail(f"captions on {page.url} never took ui/style.py's colour {CAPTION_COLOR}", pytrace=False)


def _internal(rule: str, node: dict) -> bool:
    selectors = STREAMLIT_INTERNAL.get(rule, ())
    target = " ".join(str(t) for t in node["target"])
    html = node.get("html", "")
    return any(s in target or s in html for s in selectors)


def describe(found: list[dict]) -> str:
    """Each violation's rule, impact, help and nodes (CSS target, markup, axe's summary): what to fix, and where."""
    lines = []
    for v in found:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for n in v["nodes"][:12]:
            lines.append(f"    {n['target']}  {n['html'][:160]}")
            summary = (n.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"        {summary[:300]}")
        if len(v["nodes"]) > 12:
            lines.append(f"    ... and {len(v['nodes']) - 12} more nodes")
    return "\n".join(lines)


def assert_accessible(page: Page, where: str) -> None:
    found = violations(page)
    assert not found, f"axe-core: serious or critical violations on {where}:\n{describe(found)}"


@pytest.mark.parametrize("title", list(PAGES))
def test_page_has_no_serious_violations(page: Page, server, title):
    goto(page, server.page_url(title))
    expect(page.locator(PAGE_CONTENT[title]).first).to_be_visible()
    assert_accessible(page, title)


def test_train_after_a_finished_run(page: Page, server):
    goto(page, f"{server.page_url('Train')}?{TINY_QUERY}&epochs=1")
    page.locator(".st-key-train_start button").click()
    saved_name(page)
    assert wait_progress(page, lambda p: p.status == "done", "the run to finish").status == "done"
    wait_idle(page)
    assert_no_exception(page)
    assert_accessible(page, "Train after a finished run")


def test_explore_with_an_image_picked(page: Page, server):
    goto(page, server.page_url("Explore"))
    # The second tile's button (a button with help= is drawn twice by Streamlit 1.67, one copy hidden: take the first).
    inspect = page.locator("[class*='st-key-explore_pick_']").nth(1).locator("button").first
    inspect.scroll_into_view_if_needed()
    inspect.click()
    wait_idle(page)
    expect(page.locator(".st-key-explore_probs .js-plotly-plot").first).to_be_visible()
    assert_no_exception(page)
    assert_accessible(page, "Explore with an image picked")


def test_evaluate_with_a_cell_picked(page: Page, server):
    goto(page, server.page_url("Evaluate"))
    choose(page, "evaluate_true", CLASSES[0])
    choose(page, "evaluate_pred", CLASSES[6])
    expect(page.locator("[data-testid='stImage'] img[alt^='Test image']").first).to_be_visible()
    assert_no_exception(page)
    assert_accessible(page, "Evaluate with a confusion cell picked")


def test_classify_after_an_upload(page: Page, server, dataset, tmp_path):
    path = tmp_path / "upload.png"
    Image.fromarray(dataset.test_images[0].numpy()).resize((112, 112)).save(path)
    goto(page, server.page_url("Classify"))
    page.get_by_role("tab", name="Upload").click()
    panel = page.get_by_role("tabpanel")
    panel.locator(".st-key-classify_upload input[type='file']").set_input_files(path)
    wait_idle(page)
    expect(panel.locator("[data-testid='stImage']").filter(has_text=path.name)).to_be_visible()
    assert_no_exception(page)
    assert_accessible(page, "Classify after an upload")


# Keyboard: what a learner who cannot use a mouse must reach on Train, in the order Tab visits it.

def focused(page: Page) -> dict:
    """What has the keyboard focus: its tag, text, accessible label, and the widget key and test id around it."""
    return page.evaluate("""() => {
        const e = document.activeElement;
        if (!e || e === document.body) return {tag: "body", text: "", label: "", key: "", testid: "", nav: false};
        const keyed = e.closest("[class*='st-key-']");
        const key = keyed ? [...keyed.classList].find(c => c.startsWith("st-key-")).slice(7) : "";
        const testid = e.closest("[data-testid]")?.dataset.testid || "";
        return {tag: e.tagName.toLowerCase(), text: (e.innerText || "").trim().slice(0, 60),
                label: e.getAttribute("aria-label") || "", key, testid,
                nav: !!e.closest("[data-testid='stSidebarNav']")};
    }""")


def tab_until(page: Page, wanted, limit: int = 250, what: str = "the element") -> list[dict]:
    """Presses Tab until `wanted(focused)` holds; returns every element focused on the way (the last one wanted)."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        seen.append(now)
        if wanted(now):
            return seen
    raise AssertionError(f"{what} not reached in {limit} Tab presses; focused on the way: {seen}")


def open_drawn(page: Page, url: str) -> None:
    """Opens Train and waits until its widgets are drawn: on a busy machine they can still be placeholders, which
    take no focus, when the script run has ended."""
    goto(page, url)
    for selector in (".st-key-cfg_preset input", ".st-key-lang_switch button", ".st-key-train_start button"):
        expect(page.locator(selector).first).to_be_visible()


def test_train_page_by_keyboard(page: Page, server):
    # Each target is sought from the start of a freshly loaded page (a blur would leave Chromium's Tab starting point
    # where the focus was), so a rerun that redraws the focused element mid-way cannot carry the focus past it.
    url = f"{server.page_url('Train')}?{TINY_QUERY}&epochs=200"  # a run far longer than the test: stopped once started
    for what, key in (("the preset select", "cfg_preset"), ("the language switch", "lang_switch")):
        open_drawn(page, url)
        tab_until(page, lambda f, key=key: f["key"] == key, what=what)
    open_drawn(page, url)
    seen = tab_until(page, lambda f: f["key"] == "train_start" and f["tag"] == "button", what="Start")
    links = {f["text"] for f in seen if f["nav"]}
    missing = [t for t in PAGES if not any(t in text for text in links)]
    assert not missing, f"page links not reached by Tab: {missing} (reached: {sorted(links)})"

    # Enter presses the focused Start button, and so does Space.
    for key in ("Enter", " "):
        assert focused(page)["key"] == "train_start", focused(page)
        page.keyboard.press(key)
        wait_progress(page, lambda p: p.status == "running", f"a run started by {key!r}", 60_000)
        page.locator(".st-key-train_stop button").click()
        wait_progress(page, lambda p: p.status in ("stopped", "done"), "the run to stop", 60_000)
        wait_idle(page)
        assert_no_exception(page)
        start = page.locator(".st-key-train_start button")
        expect(start).to_be_enabled()
        start.focus()
