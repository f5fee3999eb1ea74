"""The Korean catalog is complete: every message the app's code marks for translation has its Korean text, with the
same placeholders, and the catalog holds nothing the code no longer says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po

from ui.i18n import LOCALES, _, catalog, engine, gettext

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").rglob("*.py")),
           *sorted((ROOT / "fmnist").rglob("*.py"))]
FIELD = re.compile(r"\{(\w+)[^{}]*\}")


def marked_messages() -> dict[str, str]:
    """msgid -> where it was found, for every _() and N_() call with a literal in the app's code."""
    found = {}
    for path in SOURCES:
        for line, message, _comments, _context in extract_from_file("python", path, keywords=DEFAULT_KEYWORDS):
            if isinstance(message, str):
                found.setdefault(message, f"{path.relative_to(ROOT)}:{line}")
    return found


def ko_entries():
    with open(LOCALES / "ko" / "LC_MESSAGES" / "messages.po", "rb") as f:
        return {m.id: m for m in read_po(f) if m.id}


def test_every_marked_message_has_korean_text():
    entries = ko_entries()
    missing = [f"{where}: {msgid!r}" for msgid, where in marked_messages().items()
               if msgid not in entries or not entries[msgid].string or entries[msgid].fuzzy]
    assert not missing, f"{len(missing)} messages lack Korean text:\n" + "\n".join(missing)


def test_translations_keep_the_placeholders():
    wrong = [msgid for msgid, m in ko_entries().items()
             if sorted(FIELD.findall(msgid)) != sorted(FIELD.findall(m.string or ""))]
    assert not wrong, f"placeholders differ in: {wrong}"


def test_catalog_holds_only_what_the_code_says():
    stale = sorted(set(ko_entries()) - set(marked_messages()))
    assert not stale, f"no longer in the code (remove from messages.po): {stale}"


def test_english_outside_a_session_korean_on_request():
    assert _("Train") == "Train"
    assert gettext("Train", "ko") == catalog("ko")["Train"] != "Train"
    assert re.search("[가-힣]", gettext("Train", "ko"))


@pytest.mark.parametrize("msgid", [m for m in marked_messages() if FIELD.search(m)])
def test_engine_templates_fill_their_placeholders(msgid):
    names = FIELD.findall(msgid)
    values = {name: f"<{i}>" for i, name in enumerate(names)}
    english = msgid
    for name, value in values.items():
        english = re.sub(r"\{" + name + r"[^{}]*\}", value, english)
    korean = engine(english, "ko")
    assert korean != english and all(v in korean for v in values.values())


def test_class_names_match_the_engine_and_read_in_korean():
    from fmnist.data.dataset import CLASSES
    from ui.names import CLASS_NAMES

    assert tuple(CLASSES) == CLASS_NAMES
    assert [gettext(c, "ko") for c in CLASSES] == ["티셔츠/탑", "바지", "풀오버", "드레스", "코트", "샌들", "셔츠",
                                                   "스니커즈", "가방", "앵클 부츠"]
