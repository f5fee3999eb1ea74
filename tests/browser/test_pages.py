"""Every page renders in a real browser; Classify reads uploads and drawings; Evaluate shows a confusion cell's
images, chosen with the selectboxes or by clicking the heatmap."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image
from playwright.sync_api import Page, expect

from fmnist.data.dataset import CLASSES, device_tensors
from fmnist.inspect.evaluate import evaluate
from fmnist.inspect.predict import predict_files
from fmnist.store import checkpoints
from tests.browser.conftest import NAV_LINK, PAGES, assert_no_exception, choose, goto, shot, wait_idle

# Something each page shows once it has run to the end, found by widget key where there is one.
PAGE_CONTENT = {
    "Playground": ".st-key-pg_surface .js-plotly-plot",
    "Train": ".st-key-train_start button",
    "Explore": ".st-key-explore_true",
    "Evaluate": ".st-key-evaluate_confusion .js-plotly-plot",
    "Classify": "[data-testid='stTabs']",
    "Models": ".st-key-models_pick",
    "Sweep": ".st-key-sweep_study",
    "Class": ".st-key-class_typed_id",
}
PREVIEW_CAPTION = "What the model sees (28 x 28)"
PREDICTION = re.compile(r"^(.+?) · (\d+(?:\.\d)?)%$")  # no named groups: Playwright hands it to JavaScript
MAX_CELL_IMAGES = 30  # pages/evaluate.py shows at most this many images of a cell


@pytest.fixture(scope="module")
def default_model(default_checkpoint):
    """The model the server starts with as its active one (a copy of the same file)."""
    return checkpoints.load(default_checkpoint).model()


@pytest.mark.parametrize("title", list(PAGES))
def test_page_loads(page: Page, server, title):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    goto(page, server.page_url(title))
    expect(page.locator(PAGE_CONTENT[title]).first).to_be_visible()
    # An unknown path falls back to the default page: the URL and the highlighted link prove where we are.
    assert page.url.rstrip("/") == server.page_url(title).rstrip("/")
    expect(page.locator(NAV_LINK + "[aria-current='page']")).to_contain_text(title)
    assert_no_exception(page)
    shot(page, f"page-{title.lower()}")
    assert not errors, f"JavaScript errors on {title}: {errors}"


def test_every_page_opens_by_its_name_and_the_toolbar_has_no_deploy_button(page: Page, server):
    # /train is the Train page as every other page is /<its name>: no "Page not found", and the link's settings kept;
    # so is a Train link written when Train was the root (/?hidden=64&epochs=3: epochs is Train's alone).
    for url in (f"{server.url}/train?hidden=64&epochs=3", f"{server.url}/?hidden=64&epochs=3"):
        check_train_link(page, url)
    goto(page, f"{server.url}/playground?dataset=circles")  # the Playground by its name: the root, the link kept
    expect(page.locator(".st-key-dataset input")).to_have_value("circles")
    assert page.get_by_text("Page not found").count() == 0
    assert page.get_by_test_id("stAppDeployButton").count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0
    assert_no_exception(page)


def check_train_link(page: Page, url: str) -> None:
    goto(page, url)
    expect(page.locator(PAGE_CONTENT["Train"])).to_be_visible()
    expect(page.locator(NAV_LINK + "[aria-current='page']")).to_contain_text("Train")
    expect(page.locator(".st-key-cfg_w0 input")).to_have_value("64")
    expect(page.locator(".st-key-cfg_epochs input")).to_have_value("3")
    assert page.get_by_text("Page not found").count() == 0


def prediction_heading(scope):
    """The "## <label> · <p>%" line the Classify page writes over its probability chart."""
    return scope.locator("h2").filter(has_text=PREDICTION)


def parse_prediction(text: str) -> tuple[str, float]:
    m = PREDICTION.match(text.strip())
    assert m, f"not a prediction heading: {text!r}"
    return m[1], float(m[2])


def test_upload_shows_label(page: Page, server, dataset, default_model, tmp_path):
    # A test image the model gets right and is sure of, as a user would upload it: a bigger PNG.
    images, labels = dataset.test_images.numpy(), dataset.test_labels.numpy()
    index = next(i for i in range(200) if _confident(default_model, images[i], int(labels[i])))
    path = tmp_path / f"test-image-{index}.png"
    Image.fromarray(images[index]).resize((112, 112), Image.Resampling.BICUBIC).save(path)
    expected = predict_files(default_model, [str(path)])[0]
    assert "error" not in expected, expected
    expected_percent = 100 * max(expected["probabilities"])

    goto(page, server.page_url("Classify"))
    page.get_by_role("tab", name="Upload").click()
    panel = page.get_by_role("tabpanel")
    panel.locator(".st-key-classify_upload input[type='file']").set_input_files(path)
    wait_idle(page)
    heading = prediction_heading(panel)
    expect(heading).to_be_visible()
    label, percent = parse_prediction(heading.inner_text())
    assert label == expected["label"], f"the app says {label}, the model says {expected['label']}"
    assert abs(percent - expected_percent) <= 0.11
    expect(panel.get_by_text(PREVIEW_CAPTION)).to_be_visible()
    # The upload itself beside it, captioned with its file name.
    expect(panel.locator("[data-testid='stImage']").filter(has_text=path.name)).to_be_visible()
    assert_no_exception(page)
    shot(page, "classify-upload")


def _confident(model, img28: np.ndarray, label: int) -> bool:
    from fmnist.inspect.predict import probabilities

    probs = probabilities(model, img28)
    return int(np.argmax(probs)) == label and float(probs.max()) > 0.9


def test_drawing_predicts(page: Page, server):
    goto(page, server.page_url("Classify"))
    panel = page.get_by_role("tabpanel")
    expect(panel.get_by_text("Nothing to classify")).to_be_visible()
    # fabric.js stacks two canvases; the upper one takes the pointer events.
    canvas = panel.locator("canvas.upper-canvas")
    expect(canvas).to_be_visible()
    # The component draws its toolbar once it has mounted; a stroke before that could be lost.
    expect(panel.get_by_role("button", name="Reset canvas & history")).to_be_visible()
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, box

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    # A trouser-like zigzag down the middle of the square, in one stroke.
    page.mouse.move(*at(0.35, 0.1))
    page.mouse.down()
    for i in range(1, 25):
        page.mouse.move(*at(0.35 + 0.3 * (i % 2), 0.1 + 0.8 * i / 24), steps=4)
    page.mouse.up()

    heading = prediction_heading(panel)
    expect(heading).to_be_visible()
    wait_idle(page)
    label, percent = parse_prediction(heading.inner_text())
    assert label in CLASSES and 10 <= percent <= 100
    preview = panel.locator("[data-testid='stImage']").filter(has_text=PREVIEW_CAPTION).locator("img")
    expect(preview).to_be_visible()
    assert preview.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [224, 224]  # 28 x 28, 8x upscaled
    expect(panel.get_by_text("Nothing to classify")).to_have_count(0)
    assert_no_exception(page)
    shot(page, "classify-drawing")

    panel.locator(".st-key-classify_clear button").first.click()  # help= draws a hidden second copy
    wait_idle(page)
    expect(panel.get_by_text("Nothing to classify")).to_be_visible()
    expect(prediction_heading(panel)).to_have_count(0)


@pytest.fixture(scope="module")
def default_confusion(dataset, default_model) -> np.ndarray:
    _, _, x, y = device_tensors(dataset, torch.device("cpu"))
    return evaluate(default_model, x, y).confusion


def cell_text(confusion: np.ndarray, true: int, pred: int) -> str:
    return f"{int(confusion[true, pred]):,} test images of class {CLASSES[true]} predicted as {CLASSES[pred]}"


def assert_cell_shown(page: Page, confusion: np.ndarray, true: int, pred: int) -> None:
    expect(page.locator(".st-key-evaluate_true input")).to_have_value(CLASSES[true])
    expect(page.locator(".st-key-evaluate_pred input")).to_have_value(CLASSES[pred])
    expect(page.get_by_text(cell_text(confusion, true, pred))).to_be_visible()
    tiles = page.locator("[data-testid='stImage'] img[alt^='Test image']")
    expect(tiles).to_have_count(min(int(confusion[true, pred]), MAX_CELL_IMAGES))
    expect(tiles.first).to_be_visible()


def test_confusion_cell_shows_images(page: Page, server, default_confusion):
    c = default_confusion
    goto(page, server.page_url("Evaluate"))
    assert_no_exception(page)

    # With the selectboxes: a diagonal cell, the correct answers of a class.
    trouser = CLASSES.index("Trouser")
    choose(page, "evaluate_true", CLASSES[trouser])
    choose(page, "evaluate_pred", CLASSES[trouser])
    assert_cell_shown(page, c, trouser, trouser)

    # With a click on the heatmap: the commonest mistake.
    off = c.copy()
    np.fill_diagonal(off, -1)
    true, pred = (int(v) for v in np.unravel_index(int(np.argmax(off)), off.shape))
    plot = page.locator(".st-key-evaluate_confusion .js-plotly-plot")
    plot.scroll_into_view_if_needed()
    x, y = plot.evaluate("""(gd, [t, p]) => {
        const L = gd._fullLayout, r = gd.getBoundingClientRect();  // category axes put class i at coordinate i
        return [r.x + L.xaxis._offset + L.xaxis.l2p(p), r.y + L.yaxis._offset + L.yaxis.l2p(t)];
    }""", [true, pred])
    page.mouse.click(x, y)
    wait_idle(page)
    assert_cell_shown(page, c, true, pred)
    assert_no_exception(page)
    shot(page, "evaluate-cell")
