"""Playground: the tutorial's first half in the plane. A line fails on XOR, two hidden units draw the two lines that
solve it, and spirals need depth. Each hidden unit is drawn as its own output over the plane while the network
trains live on the CPU (numpy, no torch)."""

import streamlit as st

from fmnist.playground import LESSONS, is_stuck, stuck_message
from ui.i18n import _, engine
from ui.playground import charts, live_charts
from ui.playground import state as session
from ui.playground.controls import apply_lesson, describe, setup_sidebar
from ui.router import ensure_router

ensure_router()  # first: a first visit straight to this page must still go through app.py

FRAME_S = 0.15  # a redraw every 150 ms asked for: at least 5 a second once each takes its share of the CPU
SLOW_FRAME_S = 0.6  # the loss curve and the network drawing
SPEEDS = (1, 2, 5, 10, 20, 50)  # training steps per redraw
STORY_ICONS = (":material/horizontal_rule:", ":material/call_split:", ":material/cyclone:")
PLOT_CONFIG = {"displayModeBar": False}

setup, errors = setup_sidebar()

st.title(_("Playground: why layers matter"))
st.caption(_("Orange and blue points, and a network that learns to tell them apart. The background is its answer "
             "over the whole plane; every unit on the right shows its own. Start with the story, one button a step."))

story = st.columns(len(LESSONS))
for i, (col, (key, lesson), icon) in enumerate(zip(story, LESSONS.items(), STORY_ICONS)):
    col.button(f"{i + 1}. {engine(lesson.title)}", key=f"pg_lesson_{key}", icon=icon, on_click=apply_lesson,
               args=(key,), width="stretch",
               help=_("Fills the settings with this step of the story and starts training it from scratch."))
lesson = next((lesson for lesson in LESSONS.values() if lesson.setup == setup), None)
if lesson is not None:
    st.info(f"**{engine(lesson.title)}.** {engine(lesson.why)}", icon=":material/lightbulb:")
if lesson is list(LESSONS.values())[-1]:  # the story's end: on to real images, with the tutorial's own settings
    st.page_link("pages/train.py", label=_("Next: train a network on clothing images"), query_params={"preset": "seed"},
                 icon=":material/arrow_forward:",
                 help=_("The Train page with the seed preset: the same kind of network, now on 28 x 28 pictures of "
                        "clothes in ten classes."))

if errors:
    st.warning(_("Fix the settings marked in the sidebar to train this network."), icon=":material/warning:")
    st.stop()

pg = session.engine(setup)
playing = session.playing()
buttons = st.columns([1, 1, 1, 1, 3, 2], vertical_alignment="bottom")
buttons[0].button(_("Play"), key="pg_play", icon=":material/play_arrow:", type="primary", on_click=session.play,
                  width="stretch", disabled=playing,
                  help=_("Trains continuously, redrawing the pictures as the network learns."))
buttons[1].button(_("Pause"), key="pg_pause", icon=":material/pause:", on_click=session.pause, width="stretch",
                  disabled=not playing, help=_("Stops training here; Play goes on from the same weights."))
buttons[2].button(_("Step"), key="pg_step", icon=":material/skip_next:", on_click=session.step,
                  width="stretch", help=_("Train on one batch, then pause: to watch one update closely."))
buttons[3].button(_("Reset"), key="pg_reset", icon=":material/restart_alt:", on_click=session.reset,
                  width="stretch", help=_("Back to the first weights (the seed decides them), at step 0."))
speed = buttons[4].select_slider(
    _("Steps per redraw"), SPEEDS, value=10, key="pg_speed",
    help=_("How many training steps run between two redraws. More steps learn faster in real time; fewer let you "
           "see each change."))
show_test = buttons[5].toggle(
    _("Show test points"), value=True, key="pg_show_test",
    help=_("Draws the test points (dark rings) beside the training points (white rings). The network never trains "
           "on them: they show how well it does on points it has not seen."))


# The heatmap redraws every frame; the loss curve and the network's thumbnails, slower (each redraw of a chart is work
# for the browser, and three charts a frame held the heatmap to about 4 redraws a second on this 2-core machine).
# Each chart's text alternative is drawn in its chart's fragment, so it always tells what the chart shows.
@st.fragment(run_every=FRAME_S if playing else None)
def live() -> None:
    if session.playing():
        session.advance(speed)
    pg, last = session.current(), session.history()[-1]
    st.container(key="pg_status").markdown(_(
        "Step **{step}** · training loss **{train_loss}** · test loss **{test_loss}** · test accuracy **{test_acc}%** "
        "(training {train_acc}%)", step=format(last.step, ","), train_loss=format(last.train_loss, ".3f"),
        test_loss=format(last.test_loss, ".3f"), test_acc=format(last.test_acc, ".1f"),
        train_acc=format(last.train_acc, ".1f")))
    if is_stuck(session.history()):
        stuck = engine(stuck_message(pg.setup))
        st.warning(stuck[:1].upper() + stuck[1:], icon=":material/block:")
    grid = pg.grid()
    st.caption(_("Decision map"), help=_(
        "The background is the network's answer at each spot of the plane: blue where it says class 1, orange "
        "where it says class 0, white on the boundary; paler colour means less sure. Points whose colour differs "
        "from the background around them are misclassified."))
    with st.container(key="pg_surface"):  # while playing an image, which the browser redraws in place
        if session.playing():
            st.image(live_charts.data_uri(live_charts.surface_image(pg, grid, show_test), "jpeg"),
                     width=live_charts.MAP_SIZE)
        else:
            st.plotly_chart(charts.surface_figure(pg, grid, show_test), key="pg_surface_chart", config=PLOT_CONFIG)
    st.caption(charts.surface_text(grid, last))


@st.fragment(run_every=SLOW_FRAME_S if playing else None)
def loss_curve() -> None:
    history = session.history()
    st.caption(_("Loss curve"), help=_(
        "Log loss against the training step: lower means the network's answers are closer and surer. Training "
        "loss falling while test loss rises is overfitting; both flat and high means the network cannot fit the "
        "pattern."))
    st.plotly_chart(charts.loss_figure(history), key="pg_loss", config=PLOT_CONFIG)
    st.caption(charts.loss_text(history))


@st.fragment(run_every=SLOW_FRAME_S if playing else None)
def network() -> None:
    pg = session.current()
    st.markdown(_("**{network}**: orange is negative, blue positive; edges as thick as their weight.",
                  network=describe(pg.setup)),
                help=_("Each square is one unit's output over the whole plane, inputs on the left, the output on "
                       "the right: see how later layers combine the earlier ones' lines into curves. Each edge is a "
                       "weight: blue positive, orange negative, thicker is stronger; hover its middle for its "
                       "value while the network is paused."))
    with st.container(key="pg_network"):
        if session.playing():
            picture = live_charts.network_image(pg, pg.grid())
            width = picture.width // live_charts.SCALE
            st.html(live_charts.column_titles(charts.column_names(pg), live_charts.column_centres(pg), width))
            st.image(live_charts.data_uri(picture, "png"), width=width)
        else:
            st.plotly_chart(charts.network_figure(pg, pg.grid()), key="pg_network_chart", config=PLOT_CONFIG)
    st.caption(charts.network_text(pg))


left, right = st.columns([5, 6], gap="medium")
with left:
    live()
    loss_curve()
with right:
    network()
