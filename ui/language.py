"""Which language a session sees: ``?lang=ko|en`` in the address, else the browser's language, else English; the
sidebar's switch changes it and writes it into the address, so a shared link keeps it."""

from __future__ import annotations

import streamlit as st

from ui.i18n import DEFAULT, LANG_KEY, LANGUAGES, _

SWITCH_KEY = "lang_switch"


def choose_language() -> str:
    state = st.session_state
    asked = st.query_params.get("lang")
    if asked in LANGUAGES:
        state[LANG_KEY] = asked
    elif state.get(LANG_KEY) not in LANGUAGES:
        browser = (st.context.locale or "").lower()
        state[LANG_KEY] = next((code for code in LANGUAGES if browser.startswith(code)), DEFAULT)
    return state[LANG_KEY]


def _switched() -> None:
    lang = st.session_state[SWITCH_KEY] or st.session_state[LANG_KEY]
    st.session_state[LANG_KEY] = lang
    st.query_params["lang"] = lang


def language_switch() -> None:
    """Two buttons at the foot of the sidebar, each language named in itself, so either reader finds theirs."""
    st.session_state[SWITCH_KEY] = st.session_state[LANG_KEY]
    st.sidebar.segmented_control(_("Language"), list(LANGUAGES), format_func=LANGUAGES.get, key=SWITCH_KEY,
                                 on_change=_switched)
