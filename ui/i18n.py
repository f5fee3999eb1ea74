"""The app's two languages: English, the text written in the code, and Korean, from a gettext catalog.

Every string the app shows is written in English inside ``_()`` (gettext's convention, so ``pybabel extract`` finds
it); the Korean text lives in locales/ko/LC_MESSAGES/messages.po, read with Babel when first needed, so there is no
compile step to forget. Placeholders use str.format names: ``_("{n} runs are training", n=2)``.

No Streamlit import here: the chart builders are pure functions and call ``_()`` too. The language is the one the
current Streamlit session chose (ui/language.py); outside a Streamlit script run (tests, the CLI) it is English.

Messages written by the engine (fmnist/ stays English for the CLI) are translated where the app shows them, by
``engine()``: an exact catalog entry, or a template declared with ``N_()`` whose ``{name}`` parts match any text.
"""

from __future__ import annotations

import functools
import re
import sys

from fmnist import env
from ui import korean

LANGUAGES = {"en": "English", "ko": "한국어"}
DEFAULT = "en"
LANG_KEY = "lang"  # the session-state key of the chosen language
LOCALES = env.ROOT / "locales"
_FIELD = re.compile(r"\{(\w+)(?:![rsa])?(?::[^{}]*)?\}")


def N_(msgid: str) -> str:
    """Marks a message for the catalog without translating it (gettext's N_): for text the engine writes."""
    return msgid


def current() -> str:
    """The language of the session whose script is running on this thread; English outside one."""
    st = sys.modules.get("streamlit")
    if st is None:
        return DEFAULT
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return DEFAULT
    lang = st.session_state.get(LANG_KEY, DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """msgid -> translation for every translated, non-fuzzy message of the language's catalog."""
    if lang == DEFAULT:
        return {}
    from babel.messages.pofile import read_po

    with open(LOCALES / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        messages = read_po(f, locale=lang)
    return {m.id: m.string for m in messages if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def gettext(msgid: str, lang: str | None = None, **values) -> str:
    lang = lang or current()
    text = catalog(lang).get(msgid, msgid)
    if not values:
        return text
    return korean.attach(text.format(**values)) if lang == "ko" else text.format(**values)


def _(msgid: str, **values) -> str:
    """The message in the session's language, its {placeholders} filled from the keyword arguments."""
    return gettext(msgid, None, **values)


@functools.cache
def _templates(lang: str) -> list[tuple[re.Pattern, str]]:
    found = []
    for msgid, text in catalog(lang).items():
        if not _FIELD.search(msgid):
            continue
        pattern, at, named = "", 0, set()
        for m in _FIELD.finditer(msgid):  # a name used twice must match the same text twice
            name = m.group(1)
            pattern += re.escape(msgid[at:m.start()]) + (f"(?P={name})" if name in named else f"(?P<{name}>.+?)")
            named.add(name)
            at = m.end()
        found.append((len(_FIELD.sub("", msgid)), re.compile(pattern + re.escape(msgid[at:]) + r"\Z", re.S), text))
    # The most specific first (the most literal text): "layer {n}" must not take a whole health warning.
    return [(pattern, text) for _n, pattern, text in sorted(found, key=lambda t: -t[0])]


def engine(text: str, lang: str | None = None) -> str:
    """Text the engine wrote, in the session's language: an exact entry, else the most specific template it matches
    (each {name} in the template stands for the text found there), else the text as it is."""
    lang = lang or current()
    if lang == DEFAULT:
        return text
    table = catalog(lang)
    if text in table:
        return table[text]
    for pattern, translated in _templates(lang):
        found = pattern.match(text)
        if found:
            filled = _FIELD.sub(lambda f, found=found: found.group(f.group(1)), translated)
            return korean.attach(filled) if lang == "ko" else filled
    return text
