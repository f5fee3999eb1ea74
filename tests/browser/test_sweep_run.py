"""The Sweep page in a real browser: a 4-trial, 1-epoch sweep started from the page runs to the end, the table lists
every trial and Optuna's parallel-coordinates figure is drawn."""

from __future__ import annotations

import optuna
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import goto, shot, streamlit_server, wait_idle

SWEEP_TIMEOUT_MS = 600_000  # four tiny trials on a busy two-core machine
# The tiny model of tests/conftest.py, fixed through single choices; only the learning rate is searched.
# The tiny model through single choices; only the learning rate is searched (a range on a log scale).
CHOICES = {"hidden": "32", "batch_size": "512", "optimizer": "adam"}
LR_RANGE = ("0.001", "0.03")


@pytest.fixture(scope="module")
def sweep_server(tmp_path_factory, default_checkpoint):
    root = tmp_path_factory.mktemp("sweep-browser")
    storage = f"sqlite:///{root / 'studies.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FMNIST_SWEEP_STORAGE", storage)  # the server's own study file
        with streamlit_server(root, default_checkpoint) as srv:
            yield srv, storage


def fill(page: Page, key: str, text: str) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(text)
    box.press("Enter")
    wait_idle(page)


def pick_only(page: Page, key: str, value: str) -> None:
    """Empties a multiselect and picks one value, typed (a value that is not listed is added)."""
    box = page.locator(f".st-key-{key}")
    expect(box.locator("input")).to_be_visible()  # drawn, with its chips and "Clear all", before it is read
    wait_idle(page)
    clear = box.get_by_role("button", name="Clear all")
    if clear.count():
        clear.click()
        wait_idle(page)
    picker = box.locator("input")
    picker.click()
    picker.type(value)
    listed = page.get_by_role("option", name=value, exact=True)
    if listed.count():
        listed.click()  # Enter would take the first fuzzy match: "adamw" as well as "adam"
    else:
        picker.press("Enter")
    wait_idle(page)
    page.keyboard.press("Escape")


def test_a_four_trial_sweep_draws_parallel_coordinates(page: Page, sweep_server):
    server, storage = sweep_server
    goto(page, server.url + "/sweep")
    for field in ("hidden", "batch_size", "optimizer"):
        picker = page.locator(".st-key-sweep_fields input")
        picker.click()
        picker.type(field)
        picker.press("Enter")
        wait_idle(page)
        page.keyboard.press("Escape")
    for field, value in CHOICES.items():
        pick_only(page, f"sweep_choices_{field}", value)
    fill(page, "sweep_low_lr", LR_RANGE[0])
    fill(page, "sweep_high_lr", LR_RANGE[1])
    expect(page.locator(".st-key-sweep_log_lr input")).to_be_checked()
    for key, value in (("sweep_trials_n", "4"), ("sweep_epochs", "1"), ("sweep_val", "2000")):
        fill(page, key, value)
    # The same sweep as a command, derived from the controls.
    for param in ("hidden=choice:32", "batch_size=choice:512", "optimizer=choice:adam", "lr=loguniform:0.001:0.03"):
        expect(page.get_by_text(f"--param {param}")).to_be_visible()

    start = page.locator(".st-key-sweep_start button").first  # a button with help is drawn twice
    start.click()
    expect(page.locator(".st-key-sweep_stop button").first).to_be_enabled()
    # .first: while the figure is redrawn during a rerun, Plotly may hold the old and the new plot for a moment
    expect(page.locator(".st-key-sweep_fig_parallel .js-plotly-plot").first).to_be_visible(timeout=SWEEP_TIMEOUT_MS)
    expect(start).to_be_enabled(timeout=SWEEP_TIMEOUT_MS)  # the sweep has ended
    wait_idle(page)

    study = optuna.load_study(study_name="sweep-1", storage=storage)
    states = [t.state.name for t in study.trials]
    assert len(states) == 4 and "RUNNING" not in states and "COMPLETE" in states, states
    table = page.locator(".st-key-sweep_trials")
    for t in study.trials:
        expect(table).to_contain_text(t.state.name.lower())
    parallel = page.locator(".st-key-sweep_fig_parallel")
    expect(parallel).to_contain_text("validation accuracy (%)")
    expect(parallel).to_contain_text("lr")
    shot(page, "sweep")  # docs/screenshots/sweep.png is a copy
