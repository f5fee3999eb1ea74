"""Keeps every visit going through app.py's st.navigation."""

import streamlit as st


def ensure_router() -> None:
    """Streamlit treats a folder named pages/ beside the entrypoint as an old-style multipage app until
    st.navigation has run once in the server process. So the first visit after a start that links straight to a
    page (a bookmark, a shared URL) would run that page alone: no app navigation, no wide layout. This switches
    the old mode off and reruns, which goes through app.py and lands on the same page."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the old mode needs nothing
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
