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


def test_engine_messages_are_marked_in_the_engine_not_copied_into_the_app():
    """Engine text is marked with N_() where fmnist/ writes it: no app module keeps a copy (an ENGINE_MESSAGES table),
    and every such message has its Korean text."""
    import ast

    copies = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in SOURCES if "fmnist" not in path.parts
              for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
              if isinstance(node, ast.Name) and node.id in ("ENGINE_MESSAGES", "HEALTH_WARNINGS", "ENGINE_DETAILS")]
    assert not copies, f"copies of engine messages in the app (mark them with N_() in fmnist/ instead): {copies}"
    entries = ko_entries()
    engine_sources = [path for path in SOURCES if path.is_relative_to(ROOT / "fmnist")]
    marked = {message for path in engine_sources
              for _line, message, _comments, _context in extract_from_file("python", path, keywords={"N_": None})
              if isinstance(message, str)}
    assert len(marked) > 150  # the engine's errors, notes and health warnings, read from fmnist/
    lacking = sorted(m for m in marked if m not in entries or not entries[m].string or entries[m].fuzzy)
    assert not lacking, f"engine messages without Korean text: {lacking}"
    # Samples of what the app once copied, now found where the engine writes them.
    assert {"{name}: no such checkpoint", "the run failed", "use a smaller batch, or narrower or fewer layers",
            "vanishing gradients: layer 1's gradient ({first}) is {times}x smaller than layer {deepest}'s ({last}), "
            "so the first layers hardly learn; try relu, batch norm, adam or fewer layers"} <= marked
