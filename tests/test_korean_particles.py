"""Korean particles follow the word before them (받침), in every template that takes one, for every class name."""

from __future__ import annotations

import re

import pytest

from ui.i18n import catalog, engine, gettext
from ui.korean import _MARKER, attach, final_consonant, particle

# Each class's Korean name and the forms it takes: 을/를, 이/가, 은/는, 으로/로, 과/와.
CLASS_FORMS = {
    "T-shirt/top": ("티셔츠/탑", "을", "이", "은", "으로", "과"),
    "Trouser": ("바지", "를", "가", "는", "로", "와"),
    "Pullover": ("풀오버", "를", "가", "는", "로", "와"),
    "Dress": ("드레스", "를", "가", "는", "로", "와"),
    "Coat": ("코트", "를", "가", "는", "로", "와"),
    "Sandal": ("샌들", "을", "이", "은", "로", "과"),  # ㄹ takes 로
    "Shirt": ("셔츠", "를", "가", "는", "로", "와"),
    "Sneaker": ("스니커즈", "를", "가", "는", "로", "와"),
    "Bag": ("가방", "을", "이", "은", "으로", "과"),
    "Ankle boot": ("앵클 부츠", "를", "가", "는", "로", "와"),
}


def test_every_class_name_takes_its_particles():
    from fmnist.data.dataset import CLASSES

    assert set(CLASSES) == set(CLASS_FORMS)
    for english, (korean, obj, subj, topic, towards, with_) in CLASS_FORMS.items():
        assert gettext(english, "ko") == korean
        got = [particle(korean, f) for f in ("을/를", "이/가", "은/는", "으로/로", "과/와")]
        assert got == [obj, subj, topic, towards, with_], korean


@pytest.mark.parametrize("word, final", [("셔츠", 0), ("샌들", 8), ("가방", 21), ("1", 8), ("2", 0), ("10", 17),
                                         ("100", 1), ("1000", 4), ("0", 21), ("0.01", 8), ("87%", 0),
                                         ("Adam", 16), ("model", 8), ("default", 0), ("**셔츠**", 0),
                                         ("바지 (87%)", 0), ("", None), ("**", None)])
def test_final_consonant_reads_numbers_latin_and_marks(word, final):
    assert final_consonant(word) == final


def test_attach_writes_each_marker_by_the_word_before_it():
    assert attach("셔츠을(를) 티셔츠/탑(으)로") == "셔츠를 티셔츠/탑으로"
    assert attach("앵클 부츠이(가) 샌들(으)로, 가방은(는) **바지**(이)라는") == \
        "앵클 부츠가 샌들로, 가방은 **바지**라는"
    assert attach("시도 3은(는)") == "시도 3은" and attach("시도 2은(는)") == "시도 2는"
    assert attach("(으)로 시작") == "(으)로 시작"  # nothing before it to read: left as written


def _templates_with_particles():
    return [(msgid, text) for msgid, text in catalog("ko").items() if _MARKER.search(text) and "{" in msgid]


def test_the_catalog_has_templates_that_take_particles():
    assert len(_templates_with_particles()) > 30


@pytest.mark.parametrize("english", list(CLASS_FORMS))
def test_every_template_reads_right_with_every_class_name(english):
    korean = gettext(english, "ko")
    for msgid, _text in _templates_with_particles():
        names = re.findall(r"\{(\w+)[^{}]*\}", msgid)
        filled = gettext(msgid, "ko", **{n: korean for n in names})
        assert not _MARKER.search(filled), (msgid, filled)


def test_the_issue_sentences_read_as_korean():
    pair = gettext("Most confused: {true} taken for {predicted} {count} times.", "ko",
                   true=gettext("Shirt", "ko"), predicted=gettext("T-shirt/top", "ko"), count=12)
    assert "셔츠를 티셔츠/탑으로" in pair
    # the engine's messages translated where the app shows them
    warning = engine("layer 2: 45% of its units are saturated (stuck near their limits, where the gradient vanishes); "
                     "try a lower learning rate, batch norm or relu", "ko")
    assert "45%가 포화" in warning
