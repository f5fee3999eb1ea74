"""Class: a teacher's challenge and its live board. The teacher (admin password) creates a challenge and gives the
class its link; a student who opens it chooses a display name, and every run they finish enters the board, ranked by
each student's best validation accuracy. The teacher reveals test accuracy at the end, hides a run, closes the
challenge, clears its runs or exports the board."""

import datetime as dt

import streamlit as st

from fmnist.challenge import AdminError, ChallengeError, Limits
from fmnist.challenge.store import now
from fmnist.config import TrainConfig
from ui import challenge as ui_challenge
from ui.challenge import CHALLENGE_KEY, challenges, escape, join
from ui.i18n import _, engine
from ui.owner import admin_password, admin_sidebar, is_admin, owner_id
from ui.router import ensure_router
from ui.train.sidebar import CUSTOM, PRESET_KEY, widget_values

ensure_router()  # first: a first visit straight to this page must still go through app.py

BOARD_EVERY_S = 5  # the board's refresh: one query a tick, however many watch


def create_form() -> None:
    """The teacher's: a new challenge and its link."""
    with st.expander(_("New challenge"), icon=":material/add:", expanded=CHALLENGE_KEY not in st.session_state):
        st.text_input(_("Title"), max_chars=200, key="class_title")
        st.text_area(_("Task"), key="class_task", help=_("What the students are asked to do: shown on every page."))
        left, right = st.columns(2)
        left.number_input(_("At most this many parameters (0: no limit)"), 0, 100_000_000, 100_000, step=10_000,
                          key="class_max_params")
        right.number_input(_("At most this many epochs (0: no limit)"), 0, 1000, 5, key="class_max_epochs")
        left.number_input(_("At most this many seconds of training (0: no limit)"), 0, 86_400, 0,
                          key="class_max_seconds")
        right.number_input(_("Closes after this many minutes (0: when you close it)"), 0, 100_000, 0,
                           key="class_closes_in")
        st.checkbox(_("Convolutions allowed"), key="class_cnn",
                    help=_("Unticked, the class trains MLPs only: a run with convolution blocks is refused."))
        st.button(_("Create"), type="primary", key="class_create", on_click=create)
        if "class_create_error" in st.session_state:
            st.error(st.session_state.pop("class_create_error"))


def create() -> None:
    state = st.session_state
    if not is_admin():
        return
    limits = Limits(state["class_max_params"] or None, state["class_max_epochs"] or None,
                    state["class_max_seconds"] or None, state["class_cnn"])
    minutes = state["class_closes_in"]
    try:
        made = challenges().create(state["class_title"], state["class_task"], limits,
                                   now() + dt.timedelta(minutes=minutes) if minutes else None)
    except ChallengeError as exc:
        state["class_create_error"] = engine(str(exc))
        return
    state[CHALLENGE_KEY] = made.id
    st.query_params["challenge"] = made.id


def share_link(cid: str) -> None:
    st.caption(_("Give your class this link:"))
    base = (st.context.url or "").split("?")[0] if st.context.url else ""
    st.code(f"{base}?challenge={cid}" if base else f"?challenge={cid}", language=None)


def choose_challenge() -> None:
    st.info(_("Open the challenge link your teacher gave you, or type its id."), icon=":material/link:")
    typed = st.text_input(_("Challenge id"), key="class_typed_id", max_chars=16)
    if typed:
        if challenges().get(typed) is None:
            st.error(_("No challenge {id}.", id=escape(typed)))
        else:
            st.session_state[CHALLENGE_KEY] = typed.strip().lower()
            st.rerun()


def name_form(cid: str) -> None:
    """A student's display name: unique in the challenge, at most 32 characters, kept for this browser session."""
    st.text_input(_("Your display name"), max_chars=32, key="class_name_typed",
                  help=_("Shown on the board beside your runs. No account: it is kept for this browser session."))
    st.button(_("Join"), type="primary", key="class_join", on_click=join_typed, args=(cid,))
    if "class_join_error" in st.session_state:
        st.error(st.session_state.pop("class_join_error"))


def join_typed(cid: str) -> None:
    error = join(cid, st.session_state.get("class_name_typed") or "")
    if error:
        st.session_state["class_join_error"] = error


def open_settings(entry) -> None:
    """A board row's settings into this session's Train sidebar (a button callback)."""
    config = dict(entry.config)
    config.pop("val_seed", None)
    try:
        loaded = TrainConfig.from_dict(config)
    except (TypeError, ValueError):
        return
    st.session_state.update(widget_values(loaded))
    st.session_state[PRESET_KEY] = CUSTOM
    st.session_state["class_opened"] = entry.name


def board_table(board) -> None:
    revealed = board.revealed
    rows = []
    for r in board.rows:
        e = r.entry
        row = {_("rank"): r.rank, _("name"): r.name, _("validation accuracy"): e.val_acc}
        if revealed:
            row.update({_("test accuracy"): e.test_acc, _("rank by test"): r.test_rank, _("moved"): r.moved})
        row.update({_("parameters"): e.params, _("seconds"): round(e.seconds, 1), _("network"): e.network,
                    _("when"): e.created_at.strftime("%H:%M:%S"), _("runs"): r.runs})
        rows.append(row)
    if not rows:
        st.caption(_("No ranked run yet."))
        return
    # A dataframe shows every cell as text: a name with HTML or Markdown in it is shown as typed.
    st.dataframe(rows, hide_index=True, width="stretch", key="class_board_table",
                 column_config={_("validation accuracy"): st.column_config.NumberColumn(format="%.2f%%"),
                                _("test accuracy"): st.column_config.NumberColumn(format="%.2f%%"),
                                _("moved"): st.column_config.NumberColumn(format="%+d")})
    if revealed:
        st.caption(_("Ranked by validation accuracy, which every student could see; the test images were never used "
                     "to choose. **moved**: places gained (+) or lost (−) when ranked by test accuracy instead."))
    choices = {f"{r.rank}. {r.name}": r.entry for r in board.rows}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    picked = left.selectbox(_("A run of the board"), list(choices), key="class_pick")
    right.button(_("Open these settings"), key="class_open", on_click=open_settings, args=(choices[picked],),
                 help=_("Loads the run's settings into your Train sidebar."))


def apart_and_hidden(board) -> None:
    if board.apart:
        st.subheader(_("Not ranked"))
        st.dataframe([{_("name"): e.name, _("why"): engine(e.broken or ""), _("network"): e.network}
                      for e in board.apart], hide_index=True, width="stretch", key="class_apart")
    for e in board.hidden_for(owner_id()):
        st.warning(_("Your teacher hid your run of {when}: {reason}", when=e.created_at.strftime("%H:%M"),
                     reason=escape(e.hidden_reason or "")), icon=":material/visibility_off:")


@st.fragment(run_every=BOARD_EVERY_S)
def live_board(cid: str) -> None:
    """One query a tick (the challenge joined to its entries), for every student watching."""
    try:
        board = challenges().board(cid)
    except ChallengeError as exc:
        st.error(engine(str(exc)))
        return
    board_table(board)
    apart_and_hidden(board)
    st.session_state["class_board"] = board  # what the teacher's controls act on


def admin_do(action, *args) -> None:
    """A teacher's control (a callback): checked again here, so only an admin session gets this far."""
    if not is_admin():
        st.session_state["class_admin_error"] = _("Only the teacher (admin password) may do this.")
        return
    try:
        action(*args, admin_password())
    except (AdminError, ChallengeError) as exc:
        st.session_state["class_admin_error"] = engine(str(exc))


def teacher_controls(cid: str) -> None:
    s = challenges()
    info = s.get(cid)
    st.subheader(_("Teacher"))
    share_link(cid)
    cols = st.columns(3)
    cols[0].button(_("Hide test accuracy") if info.revealed else _("Reveal test accuracy"), key="class_reveal",
                   on_click=admin_do, args=(lambda c, p: s.reveal(c, p, not info.revealed), cid))
    cols[1].button(_("Reopen") if info.closed else _("Close the challenge"), key="class_close",
                   on_click=admin_do, args=(lambda c, p: s.close_challenge(c, p, not info.closed), cid))
    cols[2].download_button(_("Export CSV"), s.export_csv(cid, admin_password()), f"challenge-{cid}.csv",
                            "text/csv", key="class_export")
    board = s.board(cid)
    if board.rows or board.apart:
        entries = {f"#{e.id} {e.name} ({e.val_acc if e.val_acc is not None else '-'})": e.id
                   for e in board.entries if not e.hidden}
        with st.form("class_hide"):
            picked = st.selectbox(_("Run to hide"), list(entries) or [""])
            reason = st.text_input(_("Reason (shown to its owner)"))
            if st.form_submit_button(_("Hide")) and picked:
                admin_do(lambda c, p: s.hide(c, entries[picked], reason, p), cid)
                st.rerun()
    sure = st.checkbox(_("Yes, remove every run of this challenge (nothing of another challenge)"),
                       key="class_clear_sure")
    st.button(_("Clear the class's runs"), key="class_clear", disabled=not sure,
              on_click=admin_do, args=(s.clear, cid))
    if "class_admin_error" in st.session_state:
        st.error(st.session_state.pop("class_admin_error"))


# The page, top to bottom.
admin_sidebar()
st.title(_("Class challenge"))
if is_admin():
    create_form()
challenge = ui_challenge.current()
if challenge is None:
    choose_challenge()
    st.stop()
if not ui_challenge.joined():
    if challenge.is_open():
        name_form(challenge.id)
    else:
        st.warning(_("This challenge is closed: it takes no more runs."))
if st.session_state.get("class_opened"):
    st.success(_("The settings of {name}'s run are in your Train sidebar.",
                 name=escape(st.session_state.pop("class_opened"))), icon=":material/check:")
st.subheader(_("Board"))
live_board(challenge.id)
if is_admin():
    teacher_controls(challenge.id)
