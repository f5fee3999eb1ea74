"""Korean particles chosen by the word before them, as the language writes them, not as a template's "을(를)".

A Korean particle has two forms, one after a syllable that ends in a consonant (받침) and one after a vowel: 을/를,
이/가, 은/는, 과/와, 으로/로 (로 after ㄹ too) and the copula's 이 (이라는/라는). The catalog keeps the translator's
convention, both forms in one ("{name}을(를)", "{name}(으)로"), and ``attach()`` picks the right one once the
placeholders are filled, by the last syllable that is read before the marker. Digits are read as Korean numbers
(1 일, 10 십, 100 백) and Latin letters as they are usually written in Hangul (a final l as ㄹ, m and n as a
consonant, every other letter as a vowel: "Adam을", "model을", "default를").
"""

from __future__ import annotations

import re

RIEUL = 8  # the index of ㄹ among the 27 final consonants (0 = none)
_DIGIT_FINAL = {"0": 21, "1": RIEUL, "2": 0, "3": 16, "4": 0, "5": 0, "6": 1, "7": RIEUL, "8": RIEUL, "9": 0}
_TENS_FINAL = {1: 17, 2: 1, 3: 4}  # 십 (ㅂ), 백 (ㄱ), 천 (ㄴ); 만, 억 and beyond end in ㄴ or ㄱ: a consonant
_LATIN_FINAL = {"l": RIEUL, "m": 16, "n": 4}
# Closing marks read through: "**셔츠**을(를)", "'Adam'을(를)", "셔츠 (87%)을(를)" reads 셔츠.
_SKIP = set("*_`'\"’”»]>」』 ")
# Both forms in one, as translators write them; the (이) of the copula stands before a syllable: (이)라는.
_MARKER = re.compile(r"을\(를\)|를\(을\)|이\(가\)|가\(이\)|은\(는\)|는\(은\)|과\(와\)|와\(과\)"
                     r"|\(으\)로|\(이\)(?=[가-힣])")
_FORMS = {"을": ("을", "를"), "를": ("을", "를"), "이": ("이", "가"), "가": ("이", "가"), "은": ("은", "는"),
          "는": ("은", "는"), "과": ("과", "와"), "와": ("과", "와"), "(으)로": ("으로", "로"), "(이)": ("이", "")}


def final_consonant(word: str) -> int | None:
    """The final consonant of the word's last read syllable: 0 for none, 8 for ㄹ, another index for the others; None
    when nothing in the word can be read (empty, or only marks)."""
    word = _strip(word)
    if not word:
        return None
    last = word[-1]
    if "가" <= last <= "힣":
        return (ord(last) - ord("가")) % 28
    if last.isdigit() and last.isascii():
        number = re.search(r"[0-9.,]*$", word).group().replace(",", "")
        zeros = len(number) - len(number.rstrip("0"))
        if "." in number or zeros in (0, len(number)):  # 0.10 is read digit by digit, 0 as 영
            return _DIGIT_FINAL[last]
        return _TENS_FINAL.get(zeros, 4)
    if last.isascii() and last.isalpha():
        return _LATIN_FINAL.get(last.lower(), 0)
    if last == "%":  # 퍼센트
        return 0
    return None


def particle(word: str, forms: str) -> str:
    """The form of a particle that follows `word`: particle("셔츠", "을/를") == "를", particle("바지", "으로/로") ==
    "로", particle("샌들", "으로/로") == "로" (ㄹ takes 로). `forms` is "after a consonant/after a vowel"."""
    consonant, vowel = forms.split("/")
    final = final_consonant(word)
    if final is None:
        return f"{consonant}({vowel})" if consonant != "으로" else "(으)로"
    if consonant == "으로":
        return "로" if final in (0, RIEUL) else "으로"
    return consonant if final else vowel


def attach(text: str) -> str:
    """Every two-form particle in the text ("을(를)", "이(가)", "(으)로", ...) written as the word before it takes."""
    def one(m: re.Match) -> str:
        marker = m.group(0)
        key = marker if marker in ("(으)로", "(이)") else marker[0]
        consonant, vowel = _FORMS[key]
        final = final_consonant(text[:m.start()].rsplit("\n", 1)[-1][-40:])
        if final is None:
            return marker
        if key == "(으)로":
            return vowel if final in (0, RIEUL) else consonant
        return consonant if final else vowel

    return _MARKER.sub(one, text) if "(" in text else text


def _strip(word: str) -> str:
    """The word without the marks that close it and without a parenthesis after it (read as the word before)."""
    while word:
        if word[-1] in _SKIP:
            word = word[:-1]
        elif word[-1] == ")" and "(" in word:
            word = word[:word.rindex("(")]
        else:
            break
    return word
