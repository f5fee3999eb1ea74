"""The Train page's lesson from MLP to CNN (#36) run to its end in a real browser: its three buttons clicked one after
another, each run of the real preset (20 MLP epochs, then the two CNNs) finishing, and the comparison table filled
with those runs' own figures, read back from their checkpoints. The server trains on the first 1,000 training and
300 test images of the real data (conftest's small_server), so the three runs take seconds, not half an hour.
Then the same table in Korean, accessible, and on a phone's width. Screenshots: lesson-table.png, lesson-table-ko.png.
"""

from __future__ import annotations

import time

import torch
from playwright.sync_api import Page, expect

from fmnist.config import TrainConfig
from fmnist.data.dataset import load_dataset, normalize
from fmnist.inspect.robustness import measure
from fmnist.model.architecture import parameter_count
from fmnist.store import checkpoints
from tests.browser.conftest import assert_no_exception, goto, shot, wait_idle
from tests.browser.test_a11y import assert_accessible
from tests.browser.test_small_screen import PHONE, overflow
from tests.browser.test_training_run import SAVED, SUCCESS
from ui.train import story

RUN_TIMEOUT_S = 600  # one preset's run on the small data, on a busy two-core machine
LESSON = "[data-testid='stExpander']:has(.st-key-story_pixels)"

# The lesson's table as rows of cells: the Markdown table whose header names the shift column.
READ_TABLE = """() => {
    const table = [...document.querySelectorAll("[data-testid='stMain'] table")].find(
        t => t.querySelectorAll("thead th").length === 6);
    return table ? [...table.querySelectorAll("tbody tr")].map(
        tr => [...tr.querySelectorAll("td")].map(td => td.innerText.trim())) : null;
}"""


def new_checkpoint(page: Page, seen: set[str]) -> str:
    """Waits for the success message of a run saved under a name not seen yet (the previous step's message can
    linger until the page redraws) and returns that name."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        for text in page.locator(SUCCESS).all_inner_texts():
            m = SAVED.search(text)
            if m and m[1] not in seen:
                return m[1]
        assert_no_exception(page)
        page.wait_for_timeout(200)
    raise AssertionError(f"no new run was saved in {RUN_TIMEOUT_S} s (saved before: {sorted(seen)})")


def table(page: Page) -> list[list[str]]:
    rows = page.evaluate(READ_TABLE)
    assert rows, "the lesson's table is not on the page"
    return rows


def expected_row(server, name: str, x: torch.Tensor, y: torch.Tensor) -> list[str]:
    """Parameters, training time, test accuracy and 3-pixel shift as the table should show them for a checkpoint:
    the first three from its metadata, the shift measured here on the same test images."""
    path = server.checkpoint_dir / f"{name}{checkpoints.SUFFIX}"
    meta = checkpoints.read_meta(path)
    model = checkpoints.load(path).model()
    params = sum(p.numel() for p in model.parameters())
    assert params == parameter_count(TrainConfig.from_dict(meta["config"]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the server's measuring thread: the same sums, so the same ties
    try:
        shifted = measure(model, x, y, shifts=(story.SHIFT,), rotations=())[0].accuracy
    finally:
        torch.set_num_threads(threads)
    return [f"{params:,}", f"{meta['elapsed_s']:.0f} s", f"{meta['metrics']['test_acc']:.2f}%", f"{shifted:.2f}%"]


def test_the_lesson_runs_its_three_steps_to_the_end(page: Page, small_server, small_data):
    goto(page, f"{small_server.page_url('Train')}?story=pixels")
    lesson = page.locator(LESSON)
    expect(lesson.get_by_text("Flattened pixels.")).to_be_visible()  # the link opened the lesson at its step
    started = time.monotonic()
    names: dict[str, str] = {}
    for step in story.STEPS:
        button = page.locator(f".st-key-story_{step.key} button").first  # help= draws it twice, one hidden
        expect(button).to_be_enabled(timeout=RUN_TIMEOUT_S * 1000)
        before = small_server.checkpoints()  # the previous steps' checkpoints among them
        button.click()
        names[step.key] = new_checkpoint(page, before)
        expect(lesson.get_by_test_id("stAlertContentInfo")).to_contain_text(story.heading(step))  # what to look at
        meta = checkpoints.read_meta(small_server.checkpoint_dir / f"{names[step.key]}{checkpoints.SUFFIX}")
        print(f"\n{step.preset}: trained in {meta['elapsed_s']:.1f} s, {time.monotonic() - started:.1f} s so far")
        assert meta["config"]["preset"] == step.preset, meta["config"]  # the real preset, not a stand-in
        assert len(meta["history"]) == step.config.epochs  # run to its end
    wait_idle(page)
    # The shifts are measured after the runs, by the server's thread: the table fills in by itself.
    page.wait_for_function(f"""() => {{ const rows = ({READ_TABLE})();
        return rows && rows.length === 3 && rows.every(r => r[5].endsWith("%")); }}""", timeout=RUN_TIMEOUT_S * 1000)
    print(f"\nthe lesson's three runs and their shifts: {time.monotonic() - started:.1f} s")
    assert_no_exception(page)

    small = load_dataset(small_data)
    x, y = normalize(small.test_images), small.test_labels
    rows = table(page)
    for step, row in zip(story.STEPS, rows):
        assert row[0] == step.title and row[2:] == expected_row(small_server, names[step.key], x, y), (step.key, row)
    caption = lesson.locator("[data-testid='stCaptionContainer']").last
    expect(caption).to_contain_text("Highest test accuracy so far:")
    expect(caption).to_contain_text("Moved by 3 pixels,")
    expect(caption).to_contain_text("times fewer parameters than Flattened pixels.")
    assert_accessible(page, "Train with the lesson's table filled")
    shot(page, "lesson-table", of=lesson)

    # The same session in Korean: the table keeps its figures under Korean headings.
    page.locator(".st-key-lang_switch button", has_text="한국어").click()
    wait_idle(page)
    expect(lesson.get_by_text("지금까지 테스트 정확도가 가장 높은 단계")).to_be_visible()
    assert [r[2:] for r in table(page)] == [r[2:] for r in rows]
    assert_accessible(page, "Train with the lesson's table filled, in Korean")
    shot(page, "lesson-table-ko", of=lesson)

    # On a phone's width the table fits, or scrolls inside itself: the page never scrolls sideways.
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)
    wide = overflow(page)
    assert not wide, f"the lesson at 390 px is wider than the screen: {wide}"
