"""Keeps every visit going through app.py's st.navigation."""

import dataclasses

import streamlit as st

from fmnist.config.settings import BY_NAME
from fmnist.playground import Setup
from ui.train import lesson
from ui.train.story import PARAM as STORY


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


# What only Train reads: its settings, its preset and the lesson step, less the Playground's (hidden, lr, seed).
TRAIN_ONLY = frozenset({*BY_NAME, "preset", STORY}) - {f.name for f in dataclasses.fields(Setup)}


def for_train(params: dict) -> bool:
    """Whether an address at the root was written for the Train page: until the Playground became the root, Train's
    shared links and lesson links were /?optimizer=adam&lock=lr... A parameter that only Train reads says so, and so
    does a lock or hide naming a setting only Train has (?lock=optimizer); one both pages read (hidden, lr, seed,
    lock=lr) leaves the visitor on the Playground."""
    return not TRAIN_ONLY.isdisjoint({*params, *lesson.named(params)})
