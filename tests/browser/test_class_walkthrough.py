"""A class challenge as a class lives it (issue #37), in Chromium: a teacher creates a challenge behind the admin
password and hands out its link; three students join by it with names and each trains a tiny run from the Train page;
one first asks for too big a network and reads why next to the control; all three watch the board fill in without
reloading; the teacher reveals test accuracy and exports the board as CSV. Screenshots: class-*.png."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import VIEWPORT, goto, navigate, shot, streamlit_server, wait_idle
from tests.browser.test_training_run import RUN_TIMEOUT_MS, wait_progress

PASSWORD = "teach"
STUDENTS = {"Ada": 16, "Grace": 12, "Alan": 8}  # name -> hidden width: 12,730 parameters and fewer
SETTINGS = "optimizer=adam&lr=0.003&batch_size=512&epochs=1&val_size=5000&device=cpu"
PICK = ".st-key-class_pick"  # "A run of the board": one option a ranked student (the table itself is a canvas)
REVEALED = "places gained (+) or lost"  # the caption under a board with test accuracy


@pytest.fixture
def class_server(tmp_path, default_checkpoint, monkeypatch):
    monkeypatch.setenv("FMNIST_ADMIN_PASSWORD", PASSWORD)
    with streamlit_server(tmp_path, default_checkpoint) as server:
        yield server


def create_challenge(page: Page, server) -> str:
    goto(page, server.page_url("Class"))
    password = page.locator(".st-key-owner_admin_typed input")
    password.fill(PASSWORD)
    password.press("Enter")
    wait_idle(page)
    page.locator(".st-key-class_title input").fill("Small nets")
    page.locator(".st-key-class_task textarea").fill("Best validation accuracy with at most 20,000 weights")
    params = page.locator(".st-key-class_max_params input")
    params.fill("20000")
    params.press("Enter")
    epochs = page.locator(".st-key-class_max_epochs input")
    epochs.fill("1")
    epochs.press("Enter")
    wait_idle(page)
    page.locator(".st-key-class_create button").click()
    wait_idle(page)
    link = page.locator("[data-testid='stCode']").first.inner_text().strip()
    assert re.search(r"/class\?challenge=\w+$", link), link
    shot(page, "class-teacher")
    return link


def join(page: Page, server, cid: str, name: str) -> None:
    """The class's link with the shared settings of the lesson (as a teacher hands them out), then a name on the
    Class page, in the same session."""
    goto(page, f"{server.page_url('Train')}?challenge={cid}&hidden={STUDENTS[name]}&{SETTINGS}")
    navigate(page, "Class")
    page.locator(".st-key-class_name_typed input").fill(name)
    page.locator(".st-key-class_join button").click()
    wait_idle(page)
    expect(page.get_by_text(f"You take part as {name}.")).to_be_visible()
    navigate(page, "Train")


def start_run(page: Page, width: int) -> None:
    width_box = page.locator(".st-key-cfg_w0 input")
    width_box.fill(str(width))
    width_box.press("Enter")
    wait_idle(page)
    expect(page.locator(".st-key-train_start button")).to_be_enabled()
    page.locator(".st-key-train_start button").click()
    wait_progress(page, lambda p: p.status in ("running", "queued", "done"), "the run to start", 60_000)


def board_names(page: Page) -> list[str]:
    """The ranked names, as the board's run picker lists them ("1. Ada"), read by opening it as a user would."""
    picker = page.locator(f"{PICK} input")
    picker.click()
    names = [re.sub(r"^\d+\. ", "", t) for t in page.get_by_role("option").all_inner_texts()]
    page.keyboard.press("Escape")
    return names


def wait_board(page: Page, names: set[str]) -> None:
    """Until the board, redrawn every few seconds by itself, ranks every name: no reload."""
    expect(page.locator(PICK)).to_be_visible(timeout=RUN_TIMEOUT_MS)
    for _ in range(RUN_TIMEOUT_MS // 1000):
        if set(board_names(page)) == names:
            return
        page.wait_for_timeout(1000)
    raise AssertionError(f"the board still ranks {board_names(page)}, not {sorted(names)}")


def test_a_teacher_and_three_students(browser: Browser, class_server):
    server = class_server
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in range(1 + len(STUDENTS))]
    try:
        teacher, *students = [c.new_page() for c in contexts]
        cid = create_challenge(teacher, server).rpartition("=")[2]
        for page, name in zip(students, STUDENTS):
            join(page, server, cid, name)

        # One student asks for too big a network first: refused next to its control, Start stays off.
        too_big = students[0].locator(".st-key-cfg_w0 input")
        too_big.fill("64")
        too_big.press("Enter")
        wait_idle(students[0])
        sidebar = students[0].locator("[data-testid='stSidebar']")
        expect(sidebar).to_contain_text("this network has 50,890 parameters; the challenge allows at most 20,000")
        expect(students[0].locator(".st-key-train_start button")).to_be_disabled()
        shot(students[0], "class-limit")

        for page, width in zip(students, STUDENTS.values()):
            start_run(page, width)
        for page in students:  # to the board while the runs train: it fills in by itself
            wait_progress(page, lambda p: p.status == "done", "the run to finish", RUN_TIMEOUT_MS)
            navigate(page, "Class")
        for page in [teacher, *students]:
            wait_board(page, set(STUDENTS))
        shot(students[1], "class-board")

        teacher.locator(".st-key-class_reveal button").click()
        wait_idle(teacher)
        expect(teacher.get_by_text(REVEALED)).to_be_visible()
        expect(students[2].get_by_text(REVEALED)).to_be_visible(timeout=30_000)  # by itself, no reload
        shot(teacher, "class-revealed")
        with teacher.expect_download() as download:
            teacher.locator(".st-key-class_export button").click()
        rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
        assert sorted(r["name"] for r in rows) == sorted(STUDENTS), rows
    finally:
        for c in contexts:
            c.close()
