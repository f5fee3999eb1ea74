"""Every page in Korean: opened with ?lang=ko, no English UI text is left outside proper names, technical names and
numbers; the sidebar's switch changes the language and keeps it in the address. Screenshots of each page in Korean
go to test-artifacts/screenshots/<page>-ko.png (docs/screenshots/ holds copies)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PAGES, goto, shot, wait_idle
from tests.browser.test_pages import PAGE_CONTENT
from tests.browser.test_training_run import RUN_TIMEOUT_MS, SUCCESS, TINY_QUERY

# Words that are names, not English sentences: the dataset, the model family, libraries, hardware, number formats,
# and the technical values of options (activation and optimizer names as PyTorch spells them).
PROPER = {
    "fashion-mnist", "mnist", "fmnist", "mlp", "cnn", "relu", "gelu", "tanh", "sigmoid", "leaky_relu", "sgd", "adam",
    "adamw", "pytorch", "torch", "onnx", "onnxruntime", "optuna", "cpu", "gpu", "cuda", "mps", "ema", "bf16", "fp32",
    "xor",
    "safetensors", "python", "streamlit", "plotly", "sqlite", "postgresql", "url", "png", "jpg", "jpeg", "svg", "csv",
    "json", "idx", "nesterov", "softmax", "logits", "logit", "tensorflow", "playground", "avx512", "numpy",
    "netron", "english", "tpe",  # the ONNX viewer; the language switch names English in English; Optuna's sampler
}
WORD = re.compile(r"[A-Za-z][A-Za-z_'-]*[A-Za-z]")
# Read with two kinds of element left out for the moment: Streamlit's Material icons, ligatures whose names
# ("check_circle") are text in the DOM but no word a reader sees, and code (a command, `torch.load(...)`), which is
# the same in any language.
READ_TEXT = """() => {
    const roots = [...document.querySelectorAll("[data-testid='stMain'], [data-testid='stSidebar']")];
    const skip = roots.flatMap(r => [...r.querySelectorAll("[translate='no'], code, pre")]).filter(e =>
        e.matches("code, pre") || getComputedStyle(e).fontFamily.includes("Material"));
    const shown = skip.map(e => e.style.display);
    skip.forEach(e => { e.style.display = "none"; });
    const text = roots.map(e => e.innerText).join("\\n");
    skip.forEach((e, i) => { e.style.display = shown[i]; });
    return text;
}"""


# Streamlit's own file-uploader chrome ("Upload", "10MB per file • PNG, ..."): Streamlit 1.67 offers no way to set
# it, so it is the one English allowed, and only on the Upload tab's test.
UPLOADER_CHROME = {"upload", "per", "file", "webp", "bmp", "gif"}


def english_words(text: str, names: set[str], allowed: set[str] = frozenset()) -> list[str]:
    """The words of `text` that read as English: three or more Latin letters, not a proper or technical name and not
    a name the app holds (a checkpoint's)."""
    for name in sorted(names, key=len, reverse=True):  # a checkpoint's name is a name, digits and all
        text = text.replace(name, " ")
    allowed = PROPER | allowed
    found = []
    for word in WORD.findall(text):
        w = word.lower()
        if len(w) < 3 or w in allowed or any(part in allowed for part in re.split(r"[-_]", w)):
            continue
        found.append(word)
    return found


def korean_page_text(page: Page) -> str:
    return page.evaluate(READ_TEXT)


def assert_korean(page: Page, server, where: str, allowed: set[str] = frozenset()) -> None:
    text = korean_page_text(page)
    assert re.search("[가-힣]", text), f"{where}: no Korean text at all"
    leaked = english_words(text, {*server.checkpoints(), str(server.checkpoint_dir)}, allowed)
    lines = sorted({line.strip() for line in text.splitlines() if any(w in line for w in leaked)})
    assert not leaked, f"{where} in Korean still shows English: {sorted(set(leaked))}, in:\n" + "\n".join(lines)


def test_english_words_finds_english_but_not_names():
    assert english_words("학습 Start 에포크 3/20 · ReLU · Fashion-MNIST · 87.8%", set()) == ["Start"]
    assert english_words("모델 seed-20261202 선택", {"seed-20261202"}) == []


@pytest.mark.parametrize("title", list(PAGES))
def test_every_page_in_korean(page: Page, server, title):
    goto(page, f"{server.page_url(title)}?lang=ko")
    expect(page.locator(PAGE_CONTENT[title]).first).to_be_visible()  # drawn, not a placeholder, before it is read
    wait_idle(page)
    assert_korean(page, server, title)
    shot(page, f"{PAGES[title] or 'playground'}-ko")


def test_classify_upload_tab_in_korean(page: Page, server):
    goto(page, f"{server.page_url('Classify')}?lang=ko")
    page.get_by_role("tab").nth(1).click()  # Draw, then Upload
    expect(page.locator("[data-testid='stFileUploaderDropzone']")).to_be_visible()
    assert_korean(page, server, "Classify's Upload tab", allowed=UPLOADER_CHROME)


def test_a_finished_run_in_korean(page: Page, server):
    goto(page, f"{server.page_url('Train')}?{TINY_QUERY}&epochs=1&lang=ko")
    page.locator(".st-key-train_start button").click()
    expect(page.locator(SUCCESS).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    wait_idle(page)
    assert_korean(page, server, "Train after a run")
    shot(page, "train-run-ko")


def test_switch_changes_language_and_address(page: Page, server):
    goto(page, server.page_url("Explore"))
    page.locator(".st-key-lang_switch button", has_text="한국어").click()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]lang=ko\b"))
    expect(page.locator("[data-testid='stSidebarNav']")).to_contain_text("살펴보기")
    page.locator(".st-key-lang_switch button", has_text="English").click()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]lang=en\b"))
    expect(page.locator("[data-testid='stSidebarNav']")).to_contain_text("Explore")


def test_browser_language_chooses_korean_and_the_address_wins(browser, server):
    context = browser.new_context(locale="ko-KR", viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        goto(page, server.page_url("Explore"))  # no ?lang: the browser says Korean
        expect(page.locator("[data-testid='stSidebarNav']")).to_contain_text("살펴보기")
        goto(page, f"{server.page_url('Explore')}?lang=en")  # the address outranks the browser
        expect(page.locator("[data-testid='stSidebarNav']")).to_contain_text("Explore")
    finally:
        context.close()
