"""Shareable settings: a TrainConfig as URL query parameters and back. No Streamlit here; ui/train/sidebar.py wires
it to st.query_params.

Only what differs from the preset named by ``preset`` is written (the seed preset is the default and is not
named), so ``?`` alone is the seed preset, ``?preset=best`` is our recipe and ``?hidden=64,32&lr=0.003`` is the seed
preset with two changes. Reading is forgiving: a parameter that cannot be used is reported and ignored, the others
still apply. The reasons are in the session's language; the ``name=value`` part is the link's own text.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fmnist.config import PRESETS, TrainConfig
from fmnist.config import text as text_
from fmnist.config.settings import BY_NAME
from fmnist.config.text import format_value
from ui.i18n import _, engine

DEFAULT_PRESET = "seed"
CUSTOM = "custom"
FIELDS = BY_NAME  # every setting travels in the URL under its own name
# Parameters about how the app is shown, not about the run: kept in the address beside the settings, never read as one.
VIEW_PARAMS = ("lang", "lock", "hide", "challenge", "story")  # ui/language.py, ui/train/lesson.py, ui/challenge.py,
# ui/train/story.py
_MARKDOWN = re.compile(r"[\\`*_{}\[\]()<>#+|!~$]")  # escaped in a link's text shown by a notice
ECHO_CHARS = 40  # a link's own text, echoed in a notice, is cut to this many characters
NOTICE_LINES = 3  # problems listed one per line; more are counted, not listed


def parse_value(name: str, text: str):
    """The value of one field from its text; ValueError with a reason, in the session's language, when it is not one."""
    try:
        return text_.parse(name, text)
    except text_.ValueTextError as exc:
        raise ValueError(_(exc.expected)) from None


def clip(text, limit: int = ECHO_CHARS) -> str:
    """A link's text as a notice echoes it: at most `limit` characters, an ellipsis where it was cut."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def notice_text(problems: list[str]) -> str:
    """The notice about what a link held that could not be used: a heading and its first lines (notice_lines), the
    link's text escaped, as it is shown as written, never as Markdown."""
    lines = [_MARKDOWN.sub(r"\\\g<0>", line) for line in notice_lines(problems)]
    return _("Ignored from the link:") + "\n" + "".join(f"\n- {line}" for line in lines)


def notice_lines(problems: list[str], limit: int = NOTICE_LINES) -> list[str]:
    """The lines of a notice about what a link held that could not be used: the first `limit` problems and, when
    there are more, a line that counts them. Each problem echoes the link's text already clipped."""
    lines = problems[:limit]
    if len(problems) > limit:
        lines.append(_("and {n} more", n=len(problems) - limit))
    return lines


def _base(preset: str) -> TrainConfig:
    return PRESETS.get(preset, PRESETS[DEFAULT_PRESET])


def config_to_params(config: TrainConfig) -> dict[str, str]:
    """The config's preset (unless it is the default one) and every field that differs from that preset."""
    preset = config.preset if config.preset in PRESETS or config.preset == CUSTOM else CUSTOM
    base = _base(preset)
    params = {} if preset == DEFAULT_PRESET else {"preset": preset}
    for name in FIELDS:
        value = getattr(config, name)
        if _normal(value) != _normal(getattr(base, name)):
            params[name] = format_value(value)
    return params


def params_to_config(params: dict) -> tuple[TrainConfig | None, list[str]]:
    """The config the parameters describe and one message per parameter that was ignored (unknown name, value
    that cannot be read, or a setting TrainConfig refuses). None, with the reason, when the usable parameters
    still do not make a valid config (a combination, like keep_best from the preset with val_size=0)."""
    errors: list[str] = []
    params = {str(k): v[-1] if isinstance(v, (list, tuple)) and v else v for k, v in params.items()
              if str(k) not in VIEW_PARAMS}
    preset = params.pop("preset", DEFAULT_PRESET)
    if preset not in PRESETS and preset != CUSTOM:
        errors.append(f"preset={clip(preset)}: " + _("unknown preset; choose one of {presets}",
                                                presets=", ".join([*PRESETS, CUSTOM])))
        preset = DEFAULT_PRESET
    values: dict = {}
    for name, text in params.items():
        if name not in FIELDS:
            errors.append(f"{clip(name)}={clip(text)}: " + _("unknown setting"))
            continue
        try:
            values[name] = parse_value(name, text)
        except ValueError as exc:
            errors.append(f"{name}={clip(text)}: {exc}")
    base = _base(preset)
    while True:
        config = base.replace(**values)
        problems = config.errors()
        ours = [name for name in problems if name in values]
        if not problems:
            break
        if not ours:  # the usable parameters clash with a preset value they do not set
            errors.extend(f"{name}: {clip(engine(message), 3 * ECHO_CHARS)}" for name, message in problems.items())
            return None, errors
        for name in ours:
            errors.append(f"{name}={clip(params[name])}: {clip(engine(problems[name]), 3 * ECHO_CHARS)}")
            del values[name]
    same = all(_normal(getattr(config, n)) == _normal(getattr(base, n)) for n in FIELDS)
    named = preset if preset in PRESETS and same else CUSTOM
    return config.replace(preset=named), errors


def view_params(params: dict) -> dict[str, str]:
    """The parameters of the address that say how to show the app (its language, a lesson's locked and hidden
    settings), to keep when the settings change."""
    return {k: v for k, v in params.items() if k in VIEW_PARAMS}


def query_string(params: dict[str, str]) -> str:
    """URL query text, commas kept readable (hidden=1024,128,64)."""
    return urlencode(params, safe=",")


def _normal(value):
    return tuple(value) if isinstance(value, list) else value
