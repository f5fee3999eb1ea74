"""How a run reads on the Train page while it goes on and once it has ended: the progress line and its figures,
the outcome, and the training curves with the insight tabs under them."""

import streamlit as st

from fmnist.runs.jobs import running_jobs
from ui.i18n import N_, _, engine
from ui.inspect.explain_view import show_insight
from ui.session import active_model_name, set_active_model
from ui.train import charts

# The job's status words (fmnist/runs/jobs.py), shown through engine(). The notes a run writes and why a run
# failed or could not be saved are marked with N_() where the engine writes them (fmnist/training, runs, store).
STATUS_WORDS = (N_("waiting"), N_("running"), N_("paused"), N_("stopping"), N_("done"), N_("stopped"), N_("failed"))
INNER = {"training in fp32: ": "reason", "the run ended unexpectedly (": "reason"}  # parts that are engine text too


def engine_text(text: str) -> str:
    """An engine message in the session's language, a message quoted inside it (the reason after "training in
    fp32:", a worker's exit) translated too."""
    translated = engine(text)
    for start in INNER:
        if text.startswith(start):
            inner = text[len(start):].split(")")[0] if start.endswith("(") else text[len(start):]
            translated = translated.replace(inner, engine(inner))
    if text.startswith("out of memory at epoch "):  # what was kept, and the advice (fmnist.memory), are engine text
        kept, advice = text[text.index("(") + 1:text.index(")")], text.rpartition(": ")[2]
        translated = translated.replace(kept, engine(kept)).replace(advice, engine(advice))
    return translated


def show_progress(snap) -> None:
    config = snap.config
    if snap.status == "waiting":
        st.info(_("Waiting for a free slot: {place}. All {slots} run slots of this server are training; this run "
                  "starts by itself when one frees.", place=place_in_line(snap.queue_position), slots=running_jobs()),
                icon=":material/schedule:")
        return
    fraction = min(snap.step / snap.total_steps, 1.0) if snap.total_steps else 0.0
    st.progress(fraction, text=progress_text(snap))
    cols = st.columns(4)
    cols[0].metric(_("Samples/s"), f"{snap.samples_per_s:,.0f}",
                   help=_("Training images the run learns from per second: its speed on this device."))
    cols[1].metric(_("Time left"), duration(snap.eta_s) if snap.eta_s is not None else "–",
                   help=_("An estimate from the speed so far of how long the remaining steps take."))
    cols[2].metric(_("Elapsed"), duration(snap.elapsed_s), help=_("Training time so far, pauses not counted."))
    cols[3].metric(_("Device"), snap.device or config.device,
                   help=_("Where the run computes: the CPU, or a GPU (cuda) when the server has one."))


def progress_text(snap) -> str:
    """The progress bar's line: status word, epoch and step."""
    return _("{status} · epoch {epoch}/{total_epochs} · step {step}/{total_steps}", status=engine(snap.status),
             epoch=snap.epoch, total_epochs=snap.config.epochs, step=f"{snap.step:,}",
             total_steps=f"{snap.total_steps:,}")


def show_outcome(snap) -> None:
    if snap.status == "failed":
        st.error(_("The run failed: {error}", error=engine_text(snap.error or "")))
    if snap.save_error:
        st.warning(_("The run could not be saved: {error}", error=engine_text(snap.save_error)))
    if snap.discarded:
        show_discarded(active_model_name())
    if snap.checkpoint:
        acc = f"{snap.test_acc:.2f}"
        if snap.status != "stopped":  # a finished run was made the active model (pages/train.py)
            st.success(_("Saved as **{name}** ({acc}% test accuracy), now the active model.", name=snap.checkpoint,
                         acc=acc))
            what_next()
        else:
            show_stopped(snap.checkpoint, acc, active_model_name())
    for note in snap.notes:
        st.caption(engine_text(note))


def what_next() -> None:
    """The way on from a model just made active: the pages that look at it."""
    cols = st.columns(2)
    cols[0].page_link("pages/explore.py", label=_("Explore its predictions"), icon=":material/search:",
                      help=_("Browse the test images as this model sees them: its mistakes, its surest answers, "
                             "and why it chose each."))
    cols[1].page_link("pages/evaluate.py", label=_("Evaluate it on the test set"), icon=":material/bar_chart:",
                      help=_("Accuracy per class and the confusion matrix of this model on the 10,000 test images."))


def show_discarded(active: str | None) -> None:
    """A run stopped before its first epoch ended: nothing was saved, and the active model is what it was."""
    if active:
        st.info(_("Stopped before the first epoch ended: this run was discarded, nothing was saved, and the active "
                  "model is still **{name}**.", name=active), icon=":material/delete:")
    else:
        st.info(_("Stopped before the first epoch ended: this run was discarded and nothing was saved."),
                icon=":material/delete:")


def show_stopped(name: str, acc: str, active: str | None) -> None:
    """A run stopped after an epoch is saved and scored, and becomes the active model only when the user says so."""
    if active == name:
        st.success(_("Stopped early and saved as **{name}** ({acc}% test accuracy), now the active model.",
                     name=name, acc=acc))
        what_next()
        return
    st.success(_("Stopped early and saved as **{name}** ({acc}% test accuracy). The active model is still "
                 "**{active}**: a stopped run replaces it only when you say so.", name=name, acc=acc,
                 active=active or "–"))
    # The choice is made in the button's callback, which Streamlit runs before any of the script: a rerun between the
    # click and this line (ui/router.py's, on a server's first run) would otherwise lose a press that lasts one run.
    st.button(_("Make it the active model"), key="train_make_active", icon=":material/check_circle:",
              on_click=make_active, args=(name,))


def make_active(name: str) -> None:
    set_active_model(name)
    st.rerun(scope="app")  # the whole page, not the fragment the button is in: the sidebar names the new model too


def show_charts(runs, snap) -> None:
    curves = [charts.from_snapshot(s, _("run {n}", n=i + 1), current=False) for i, s in enumerate(runs.history)]
    curves.append(charts.from_snapshot(snap))
    show_step_chart(curves)
    left, right = st.columns(2)
    left.caption(_("**Loss per epoch**"),
                 help=_("The mean loss after each epoch on the training images and on the test set. Test loss "
                        "rising while training loss falls means the model is overfitting."))
    left.plotly_chart(charts.epoch_loss_figure(curves), key="train_chart_loss")
    left.caption(charts.epoch_loss_text(curves, snap.config.epochs))
    reference = charts.reference_for(snap.config)  # the notebook's published figures, for the seed preset
    right.caption(_("**Accuracy per epoch**"),
                  help=_("The share of images classified right after each epoch, on the training images and on the "
                         "test set the model never trains on. A growing gap between them is overfitting; black "
                         "crosses are the notebook's published figures."))
    right.plotly_chart(charts.epoch_accuracy_figure(curves, reference), key="train_chart_acc")
    right.caption(charts.epoch_accuracy_text(curves, snap.config.epochs))
    show_insight(snap)


def show_step_chart(curves: list) -> None:
    """The loss per step, with its "?" and its text; empty before the session's first run."""
    st.caption(_("**Training loss per step**"),
               help=_("The loss on each logged batch: how wrong the model is on the images it just trained on, "
                      "lower is better. The faint line is the raw loss, the solid one its average over neighbouring "
                      "points; dotted lines mark learning-rate changes, grey lines earlier runs of this session."))
    st.plotly_chart(charts.step_loss_figure(curves), key="train_chart_steps")
    st.caption(charts.step_loss_text(curves))


def duration(seconds: float) -> str:
    minutes, s = divmod(int(round(seconds)), 60)
    return f"{minutes}:{s:02d}" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def place_in_line(n: int) -> str:
    """"2nd in line", in the session's language."""
    suffix = ordinal(n)[-2:]
    return {"st": _("{n}st in line", n=n), "nd": _("{n}nd in line", n=n),
            "rd": _("{n}rd in line", n=n)}.get(suffix) or _("{n}th in line", n=n)
