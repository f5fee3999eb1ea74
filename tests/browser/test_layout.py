"""Nothing cut off and nothing on top of something else, on every page, at 1400 and 390 px, in English and Korean.

Measured from the layout, not from pixels: a button, tab or menu link whose label is wider than its box (its text
clipped or ended with an ellipsis); two of the page's elements (Streamlit's element containers, which hold one
widget, chart or text each) whose boxes cross; and, inside a Plotly chart, a button (the play/pause of an animation)
over the chart's text. One server, one browser page per language and page; the page is measured wide, then narrowed.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PAGES, goto
from tests.browser.test_pages import PAGE_CONTENT

WIDTHS = (1400, 390)
HEIGHT = 1000
SLACK_PX = 2  # subpixel rounding: boxes that touch or cross by a pixel are side by side, not on top

# Finds the problems of the page as it is laid out now: a list of sentences, empty when there are none.
FIND_PROBLEMS = """slack => {
    const shown = e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && e.checkVisibility({visibilityProperty: true, opacityProperty: true});
    };
    const name = e => {
        const keyed = e.closest("[class*='st-key-']");
        const key = keyed ? [...keyed.classList].find(c => c.startsWith("st-key-")).slice(7) : "";
        const text = (e.innerText || e.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 40);
        return `${key ? key + " " : ""}"${text}"`;
    };
    const roots = [...document.querySelectorAll("[data-testid='stMain'], [data-testid='stSidebar']")].filter(shown);
    const out = [];
    // Labels: a button, tab or menu link, or any element inside one, whose text is wider than its box.
    const labelled = roots.flatMap(r => [...r.querySelectorAll(
        "button, [role='tab'], [data-testid='stSidebarNavLink']")]).filter(shown);
    for (const b of labelled) {
        if (!(b.innerText || "").trim()) continue;  // an icon's button
        for (const e of [b, ...b.querySelectorAll("*")]) {
            if (!shown(e) || getComputedStyle(e).fontFamily.includes("Material")) continue;
            const s = getComputedStyle(e);
            const clips = s.overflow !== "visible" || s.overflowX !== "visible" || s.textOverflow === "ellipsis";
            if (clips && e.scrollWidth > e.clientWidth + 1) {
                out.push(`label cut: ${name(b)} (${e.scrollWidth} px of text in ${e.clientWidth} px)`);
                break;
            }
        }
    }
    // Overlaps: any two shown element containers, neither inside the other, whose boxes cross.
    const boxes = roots.flatMap(r => [...r.querySelectorAll("[data-testid='stElementContainer']")])
        .filter(e => shown(e) && e.getBoundingClientRect().height > slack)
        .map(e => ({e, r: e.getBoundingClientRect()}));
    const cross = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > slack
        && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > slack;
    for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i], b = boxes[j];
            if (a.e.contains(b.e) || b.e.contains(a.e) || !cross(a.r, b.r)) continue;
            out.push(`overlap: ${name(a.e)} and ${name(b.e)}`);
        }
    }
    // Buttons drawn outside their own element (the drawing canvas's toolbar floats above the canvas, in a shadow
    // root): over another element's box.
    const host = e => e.parentElement || (e.getRootNode() !== document ? e.getRootNode().host : null);
    const containerOf = e => {
        for (let p = e; p; p = host(p)) if (p.dataset && p.dataset.testid === "stElementContainer") return p;
        return null;
    };
    const buttons = [];
    const collect = root => root.querySelectorAll("*").forEach(e => {
        if (e.shadowRoot) collect(e.shadowRoot);
        if (e.tagName === "BUTTON" && shown(e)) buttons.push(e);
    });
    roots.forEach(collect);
    for (const b of buttons) {
        const own = containerOf(b);
        const r = b.getBoundingClientRect();
        for (const o of boxes) {
            if (o.e === own || (own && (o.e.contains(own) || own.contains(o.e))) || !cross(r, o.r)) continue;
            const label = b.title || b.getAttribute("aria-label") || "";
            out.push(`button over another element: ${name(own || b)} "${label}" over ${name(o.e)}`);
        }
    }
    // Inside a chart: an animation's buttons over the chart's text (the slider's label, a title).
    for (const gd of document.querySelectorAll(".js-plotly-plot")) {
        if (!shown(gd)) continue;
        const buttons = [...gd.querySelectorAll(".updatemenu-button")].filter(shown)
            .map(e => e.getBoundingClientRect());
        const texts = [...gd.querySelectorAll(".slider-container text, .infolayer text")].filter(
            e => shown(e) && e.textContent.trim());
        for (const t of texts) {
            if (buttons.some(r => cross(r, t.getBoundingClientRect()))) {
                const keyed = gd.closest("[class*='st-key-']");
                out.push(`chart button over text: ${keyed ? name(keyed) : "chart"} "${t.textContent.trim()}"`);
            }
        }
    }
    return out;
}"""


def problems(page: Page) -> list[str]:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page.evaluate(FIND_PROBLEMS, SLACK_PX)


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("title", list(PAGES))
def test_nothing_cut_off_or_overlapping(page: Page, server, title, lang):
    found = {}
    page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
    goto(page, f"{server.page_url(title)}?lang={lang}")
    expect(page.locator(PAGE_CONTENT[title]).first).to_be_attached()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.wait_for_timeout(500)  # charts redraw at the width they get
        found[width] = problems(page)
    assert not any(found.values()), f"{title} ({lang}): " + "; ".join(
        f"at {w} px: {', '.join(p)}" for w, p in found.items() if p)


def test_the_drawing_canvas_toolbar_leaves_the_brush_slider_clear(page: Page, server):
    # The toolbar (undo, redo, reset) appears once something is drawn.
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        goto(page, f"{server.page_url('Classify')}?lang=ko")
        canvas = page.locator("canvas.upper-canvas")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + 40, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + 140, box["y"] + 140, steps=5)
        page.mouse.up()
        expect(page.get_by_role("button", name="캔버스와 기록 지우기")).to_be_visible()
        assert not problems(page), f"at {width} px: {problems(page)}"
