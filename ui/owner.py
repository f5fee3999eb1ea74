"""Whose runs these are: an opaque id per browser session (recorded in the checkpoints it saves; nothing about the
person), and the admin switch a teacher turns on with FMNIST_ADMIN_PASSWORD."""

from __future__ import annotations

import hmac
import uuid

import streamlit as st

from fmnist import env
from ui.i18n import _

OWNER_KEY = "owner_id"
ADMIN_KEY = "owner_admin"


def owner_id() -> str:
    """This browser session's id: made once, kept in the session's state (a reload starts a new session)."""
    return st.session_state.setdefault(OWNER_KEY, uuid.uuid4().hex)


def admin_password() -> str | None:
    """FMNIST_ADMIN_PASSWORD from the environment, else from Streamlit's secrets; None: no admin on this server."""
    password = env.get("FMNIST_ADMIN_PASSWORD")
    if password:
        return password
    try:
        return st.secrets.get("FMNIST_ADMIN_PASSWORD") or None
    except Exception:  # no secrets file at all is the usual case, and Streamlit reports it with its own errors
        return None


def is_admin() -> bool:
    return bool(st.session_state.get(ADMIN_KEY)) and admin_password() is not None


def admin_sidebar() -> None:
    """Where a password is set: a field in the sidebar, typed once per session, that lets this session delete any
    checkpoint."""
    password = admin_password()
    if password is None:
        return
    if is_admin():
        st.sidebar.caption(_("Admin: this session may delete any checkpoint."))
        st.sidebar.button(_("Leave admin mode"), key="owner_admin_leave", on_click=st.session_state.pop,
                          args=(ADMIN_KEY, None), help=_("Back to an ordinary session that may delete only its own "
                                                         "checkpoints."))
        return
    st.sidebar.text_input(_("Admin password"), type="password", key="owner_admin_typed", on_change=_check_password,
                          help=_("Set by whoever runs this server (FMNIST_ADMIN_PASSWORD)"))
    if st.session_state.pop("owner_admin_wrong", False):
        st.sidebar.error(_("Wrong admin password."))


def _check_password() -> None:
    typed, password = st.session_state.get("owner_admin_typed") or "", admin_password() or ""
    st.session_state["owner_admin_typed"] = ""  # not kept in the session once checked
    if typed and password and hmac.compare_digest(typed.encode(), password.encode()):
        st.session_state[ADMIN_KEY] = True
    elif typed:
        st.session_state["owner_admin_wrong"] = True
