"""Explore, Evaluate, Classify and Models open in Korean (?lang=ko): titles, control labels, help and the charts'
text alternatives are Korean, class names included, with the option values the code relies on unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fmnist.data.dataset import CLASSES
from tests.helpers import APP
from ui.i18n import gettext

HANGUL = re.compile("[가-힣]")
MODELS_OWN = {"models_pick", "models_compare", "models_delete_sure"}  # Models also shows other modules' sections


def korean_page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["lang"] = "ko"
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def assert_korean(texts) -> None:
    english = [t for t in texts if t and not HANGUL.search(t)]
    assert not english, english


@pytest.mark.parametrize("page", ["pages/explore.py", "pages/evaluate.py", "pages/classify.py", "pages/models.py"])
def test_page_reads_in_korean(ckpt_dir, page):
    at = korean_page(page)
    assert_korean([t.value for t in at.title])
    if page != "pages/models.py":  # whose last sections belong to other modules
        assert_korean([h.value for h in at.header])
    prefix = Path(page).stem + "_"  # this page's own controls
    widgets = [w for w in (*at.selectbox, *at.radio, *at.toggle, *at.slider, *at.number_input, *at.multiselect,
                           *at.checkbox) if (w.key or "").startswith(prefix)
               and (page != "pages/models.py" or w.key in MODELS_OWN)]
    assert widgets
    assert_korean([w.label for w in widgets])
    assert all(HANGUL.search(w.help or "") for w in widgets), [w.label for w in widgets if not w.help]


def test_explore_keeps_option_values_and_shows_korean_labels(ckpt_dir):
    at = korean_page("pages/explore.py")
    assert at.session_state["explore_true"] == "All classes" and at.session_state["explore_correctness"] == "All"
    box = at.selectbox(key="explore_true")
    assert box.options[:3] == ["모든 클래스", "티셔츠/탑", "바지"]
    # (No rerun here: AppTest maps a value back to its option through str, not the page's format_func.)
    assert any("테스트 이미지" in m.value and "조건에 맞습니다" in m.value for m in at.markdown)
    captions = [c.value for c in at.caption]
    korean_names = [gettext(name, "ko") for name in CLASSES]
    tiles = [c for c in captions if re.search(r"#\d+", c)]
    assert tiles and all(any(f"**{name}**" in t for name in korean_names) for t in tiles)  # class names in Korean
    assert any(c.startswith("가장 가능성 높은 클래스") for c in captions)  # the probability bars in words


def test_evaluate_confusion_matrix_in_korean(ckpt_dir):
    at = korean_page("pages/evaluate.py")
    captions = [c.value for c in at.caption]
    assert any(c.startswith("테스트 정확도") for c in captions)  # the matrix's text alternative
    chart = next(c for c in at.get("plotly_chart") if "evaluate_confusion" in str(c.proto.id))
    layout, heat = json.loads(chart.proto.spec)["layout"], json.loads(chart.proto.spec)["data"][0]
    assert layout["xaxis"]["title"]["text"] == "예측 클래스" and layout["yaxis"]["title"]["text"] == "실제 클래스"
    assert heat["x"][0] == "티셔츠/탑" and heat["y"][-1] == "앵클 부츠"
    table = next(m.value for m in at.markdown if m.value.startswith("| 클래스 |"))
    assert [r.split("|")[1].strip() for r in table.splitlines()[2:4]] == ["티셔츠/탑", "바지"]
