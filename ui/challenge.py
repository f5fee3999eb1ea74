"""A class challenge seen from a browser session: the link's `?challenge=ID` kept for the session, the student's
display name, the banner every page shows, the limits the Train sidebar refuses, and what a run needs to be entered
on the board (fmnist.challenge has the rules; the worker checks them again)."""

from __future__ import annotations

import re

import streamlit as st

from fmnist.challenge import ChallengeError, ChallengeInfo, Limits, broken_limits, challenge_config, store
from fmnist.config import TrainConfig
from ui.i18n import _, engine
from ui.owner import admin_password, owner_id

CHALLENGE_KEY = "class_challenge"  # the challenge's id, from the link, for the whole session
NAME_KEY = "class_name"  # the display name this session holds in it
_MARKDOWN = re.compile(r"[\\`*_{}\[\]()<>#+|!~$]")


def escape(text: str) -> str:
    """Text someone typed (a name, a title), shown as written: never as Markdown or HTML."""
    return _MARKDOWN.sub(r"\\\g<0>", str(text))


def challenges():
    """The server's challenge store (one per process and database URL)."""
    return store(admin_password=admin_password())


def read_link() -> None:
    """`?challenge=ID` in the address makes it this session's challenge (app.py calls this before every page)."""
    cid = st.query_params.get("challenge")
    if cid and cid != st.session_state.get(CHALLENGE_KEY):
        st.session_state[CHALLENGE_KEY] = str(cid).strip().lower()[:16]
        st.session_state.pop(NAME_KEY, None)


def current() -> ChallengeInfo | None:
    cid = st.session_state.get(CHALLENGE_KEY)
    return challenges().get(cid) if cid else None


def joined() -> tuple[ChallengeInfo, str] | None:
    """(challenge, name) once this session has chosen a name in the session's challenge."""
    name = st.session_state.get(NAME_KEY)
    challenge = current() if name else None
    return (challenge, name) if challenge else None


def join(cid: str, name: str) -> str | None:
    """Holds the name for this session; the error in the session's language, or None."""
    try:
        st.session_state[NAME_KEY] = challenges().join(cid, name, owner_id())
        st.session_state[CHALLENGE_KEY] = cid
    except ChallengeError as exc:
        return engine(str(exc))
    return None


def limits_lines(limits: Limits) -> list[str]:
    lines = []
    if limits.max_params:
        lines.append(_("at most {count} parameters", count=f"{limits.max_params:,}"))
    if limits.max_epochs:
        lines.append(_("at most {count} epochs", count=limits.max_epochs))
    if limits.max_seconds:
        lines.append(_("at most {count} s of training", count=f"{limits.max_seconds:g}"))
    lines.append(_("convolutions allowed") if limits.allow_conv else _("MLP only"))
    for name, value in limits.locked.items():
        lines.append(_("{setting} fixed at {value}", setting=name, value=value))
    lines.append(_("scored on the same {count} validation images for everyone", count=f"{limits.val_size:,}"))
    return lines


def banner() -> None:
    """The challenge's title, task and limits at the top of every page of a session that opened its link."""
    challenge = current()
    if challenge is None:
        return
    name = st.session_state.get(NAME_KEY)
    who = _("You take part as **{name}**.", name=escape(name)) if name else \
        _("Choose a display name on the Class page to enter your runs.")
    closed = "" if challenge.is_open() else " " + _("(closed)")
    text = f"**{escape(challenge.title)}**{closed}"
    if challenge.task:
        text += "  \n" + escape(challenge.task)
    text += "  \n" + " · ".join(limits_lines(challenge.limits)) + "  \n" + who
    st.info(text, icon=":material/emoji_events:")


def limit_errors(config: TrainConfig) -> dict[str, str]:
    """{setting: why} for every limit of the joined challenge the form's config breaks (English; the sidebar shows
    them through engine(), next to their controls)."""
    found = joined()
    if found is None:
        return {}
    challenge = found[0]
    errors: dict[str, str] = {}
    for b in broken_limits(challenge.limits, challenge_config(challenge.limits, config)):
        errors.setdefault(b.field, b.message)
    return errors


def run_config(config: TrainConfig) -> TrainConfig:
    """The config as the challenge runs it (its validation split), or as it is outside one."""
    found = joined()
    return challenge_config(found[0].limits, config) if found else config


def job_spec() -> dict | None:
    """What a TrainingJob passes its worker to enter the run (None outside a challenge)."""
    found = joined()
    if found is None:
        return None
    return {"id": found[0].id, "name": found[1], "db": challenges().url}
