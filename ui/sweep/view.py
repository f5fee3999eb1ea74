"""The Sweep page's Streamlit pieces: the session's running sweep, the parameter inputs, the live trials table and
figures, and making a trial the active model."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import optuna
import pandas as pd
import streamlit as st

from fmnist.config import TrainConfig
from fmnist.store import checkpoints
from fmnist.sweep import space
from fmnist.sweep import study as sweep
from fmnist.sweep.runner import ParallelSweep
from ui.i18n import N_, _, engine
from ui.session import set_active_model, store
from ui.sweep import charts as sweep_charts

FIGURES = (("parallel", N_("Parallel coordinates")), ("history", N_("Optimisation history")),
           ("importance", N_("Parameter importance")), ("slice", N_("Slice")))
FIGURE_HELP = {
    "parallel": N_("Each line is one completed trial, crossing one axis per setting and ending at its validation "
                   "accuracy; its colour is that accuracy. Follow the best lines back to see which values they "
                   "share."),
    "history": N_("Each dot is a trial's validation accuracy, in the order the trials ran; the line is the best so "
                  "far. A line that keeps rising means the search is still finding better settings."),
    "importance": N_("How much of the difference in validation accuracy each setting explains, by Optuna's "
                     "PED-ANOVA estimate. Spend the next sweep's trials on the settings with long bars."),
    "slice": N_("One panel per setting: each dot is a trial at the value it tried, its height the validation "
                "accuracy, its colour how late it ran. A cloud that climbs toward one end says to widen the range "
                "that way."),
}
# The trials table's columns as shown (the rows keep the engine's keys; parameters keep their field names).
COLUMNS = {"trial": N_("trial"), "state": N_("state"), "val acc": N_("val acc"), "test acc": N_("test acc"),
           "progress": N_("progress"), "ETA": N_("ETA"), "note": N_("note")}


@dataclass
class SessionSweep:
    runner: ParallelSweep | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.alive

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            self.runner.join(10)


def _release(holder: SessionSweep) -> None:
    holder.close()


@st.cache_resource(scope="session", on_release=_release, show_spinner=False)
def session_sweep() -> SessionSweep:
    """Stopped (its trials recorded and queued again) when the browser session disconnects."""
    return SessionSweep()


@st.cache_resource(show_spinner=False)
def _storage(url: str) -> optuna.storages.BaseStorage:
    """One connection pool per storage URL and server, not one per page refresh."""
    return sweep.open_storage(url)


def load_study(name: str, storage: str) -> optuna.Study | None:
    try:
        return optuna.load_study(study_name=name, storage=_storage(storage))
    except KeyError:  # no such study yet
        return None
    except space.SweepError as exc:
        st.error(engine(str(exc)), icon=":material/error:")
        return None


def start(holder: SessionSweep, name: str, storage: str, sampler: str, base: TrainConfig,
          params: list[space.Param], trials: int, parallel: int) -> None:
    with holder.lock:
        if holder.running:
            return
        study = sweep.open_study(name, storage, sweep.make_sampler(sampler, params))
        holder.runner = ParallelSweep(study, base, params, trials, sweep.checkpoint_store(name),
                                      parallel).start()


EMPTY_CELL = "–"  # what a cell with no value shows (Streamlit's default is a grey "None": no ETA for a finished trial)


def show_table(study: optuna.Study, holder: SessionSweep) -> int | None:
    """The trials table; returns the trial number of the row the user clicked."""
    live = holder.runner.live() if holder.runner is not None else []
    rows = sweep_charts.trial_rows(study.get_trials(deepcopy=False), live)
    if not rows:
        st.info(_("No trials yet."))
        return None
    table = pd.DataFrame(rows)
    for column in ("val acc", "test acc", "progress", "ETA"):  # numbers; an empty cell shows EMPTY_CELL, not "None"
        table[column] = pd.to_numeric(table[column])
    shown = {key: _(label) for key, label in COLUMNS.items()}
    table = table.rename(columns=shown)
    config = {
        shown["val acc"]: st.column_config.NumberColumn(format="%.2f%%", help=_(
            "Accuracy on the validation images, held out of training: the score the sweep compares trials on.")),
        shown["test acc"]: st.column_config.NumberColumn(format="%.2f%%", help=_(
            "Accuracy on the test set, for reference only: it is never used to choose.")),
        shown["progress"]: st.column_config.ProgressColumn(min_value=0, max_value=1, help=_(
            "How far a running trial has trained.")),
        shown["ETA"]: st.column_config.NumberColumn(format="%d s", help=_(
            "Estimated seconds until a running trial finishes.")),
        shown["state"]: st.column_config.TextColumn(help=_(
            "complete: trained all its epochs; pruned: stopped early, below the median of earlier trials; fail: "
            "could not train (see the note); running: training now.")),
    }
    picked = st.dataframe(table, hide_index=True, key="sweep_trials", on_select="rerun", selection_mode="single-row",
                          column_config=config, placeholder=EMPTY_CELL)
    selected = picked.selection.rows if picked is not None else []
    return rows[selected[0]]["trial"] if selected else None


def show_figures(study: optuna.Study) -> None:
    figures = sweep_charts.study_figures(study)
    tabs = st.tabs([_(title) for _key, title in FIGURES])
    for tab, (key, title) in zip(tabs, FIGURES):
        with tab:
            fig = figures[key]
            if isinstance(fig, str):
                st.caption(f"{_(title)}: {fig}.", help=_(FIGURE_HELP[key]))
            else:
                st.caption(_("How to read this chart"), help=_(FIGURE_HELP[key]))
                st.plotly_chart(fig, key=f"sweep_fig_{key}", config={"displaylogo": False})
                st.caption(figure_text(key, study, fig))


def figure_text(key: str, study: optuna.Study, fig) -> str:
    """The text alternative of one of Optuna's figures."""
    if key == "importance":
        return sweep_charts.importance_text(fig)
    return {"history": sweep_charts.history_text, "parallel": sweep_charts.parallel_text,
            "slice": sweep_charts.slice_text}[key](study)


def active_name(study: str, number: int) -> str:
    """The name of a trial's copy in the top checkpoints folder, where every page looks for models."""
    return f"sweep-{study[:60]}-trial-{number}"


def make_active(study: optuna.Study) -> None:
    """Copies the best trial's checkpoint to the top folder (the app's store lists that folder only) and makes it
    the session's active model."""
    try:
        best = study.best_trial
        path = sweep.checkpoint_store(study.study_name).path_for(sweep.trial_name(best.number))
        ckpt = checkpoints.load(path)
        name = active_name(study.study_name, best.number)
        store().save(name, ckpt.model(), ckpt.meta)
    except (ValueError, checkpoints.CheckpointError) as exc:
        st.error(_("Cannot use the best trial: {error}", error=engine(str(exc))), icon=":material/error:")
        return
    set_active_model(name)
    st.success(_("Trial {number} ({acc}% validation accuracy) is the active model, as **{name}**.",
                 number=best.number, acc=format(best.value, ".2f"), name=name))
