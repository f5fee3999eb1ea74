"""Page-wide CSS, for what the theme in .streamlit/config.toml cannot set.

Streamlit draws captions (st.caption, widget captions) in the body text colour at 60% opacity: grey #828180 on white,
a contrast of 3.9:1, under the 4.5:1 WCAG AA asks for small text, and inline `code` in a caption fades to 3:1 the same
way. Drawn opaque in a darker grey instead, captions read 6.4:1 on white and 5.6:1 on the sidebar's grey, and what
they hold (code, :red[...]) keeps its own colour at full strength.

Markdown tables (the model summary, with its shapes and multiply-adds) scroll inside themselves on a narrow screen
instead of widening the page, and their cells are padded 6.4 px a side, not Streamlit's 12 px, so that
Evaluate's per-class table fits half the page at 1400 px (a table that scrolls needs keyboard access too).

A button's label wraps between words instead of ending in an ellipsis ("일시…" was all a narrow column showed of
일시정지), and Korean lines break between words, not inside one: the browser's default for Korean breaks after
any syllable, which left "기" of a heading alone on its line (Streamlit sets word-break on its paragraphs, so the
rule names them). Headings are balanced for the same reason.

A segmented control's chosen option under the mouse (the language switch just pressed) or the keyboard's focus gets a
stronger tint of the theme's indigo behind the same indigo text, 4.4:1; its text darkens to the theme's next shade
there (5.5:1). The rule names Streamlit's own states (data-hovered, data-focus-visible) to outweigh its selector.

The drawing canvas's toolbar (streamlit-drawable-canvas places it absolutely, 43 px above the canvas) covered the
brush slider above it: the canvas keeps that much room above itself.
"""

from __future__ import annotations

import streamlit as st

CAPTION_COLOR = "#625f5a"  # a warm grey beside the theme's text colour (#2f2d2b)
CHOSEN_HOVER_COLOR = "#4338ca"  # the theme's primary #4f46e5 one shade darker (Tailwind's indigo 700 and 600)

CSS = f"""<style>
[data-testid='stCaptionContainer'] {{ opacity: 1; color: {CAPTION_COLOR}; }}
[data-testid='stMarkdownContainer'] table {{ display: block; overflow-x: auto; max-width: 100%; }}
[data-testid='stMarkdownContainer'] :is(th, td) {{ padding: 0.375rem 0.4rem; }}
button [data-testid='stMarkdownContainer'] {{ white-space: normal; text-overflow: clip; overflow: visible; }}
[data-testid='stApp'] :is([data-testid='stMain'], [data-testid='stSidebar']) :is(p, li, h1, h2, h3, h4, label, th, td)
    {{ word-break: keep-all; overflow-wrap: break-word; }}
[class*='st-key-classify_canvas'] {{ margin-top: 2rem; }}
h1, h2, h3 {{ text-wrap: balance; }}
button[data-variant='segmented_control'][data-selected]:is([data-hovered], [data-focus-visible]):not([data-disabled])
    {{ color: {CHOSEN_HOVER_COLOR}; }}
</style>"""


def apply() -> None:
    """Adds the CSS to the page; a style-only st.html takes no room in the layout."""
    st.html(CSS)
