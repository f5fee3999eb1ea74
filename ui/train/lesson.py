"""Teacher mode: a link that fixes or hides some settings, read from the address. No Streamlit here; ui/train/sidebar.py
shows the form accordingly, and ui/playground/teacher.py reads the same parameters for the Playground's own settings.

``?lock=lr,hidden`` shows those settings disabled, at the link's values (or the preset's); ``?hide=optimizer`` does not
show those controls at all, their values still coming from the link or the preset. Names are TrainConfig field names
(``hidden`` is the layer count and widths) and ``preset``. Both are view parameters (ui/train/share.py
VIEW_PARAMS): kept in the address beside the settings, never read as one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fmnist.config.settings import LESSON_NAMES
from fmnist.config.text import format_value
from ui.i18n import N_, _
from ui.train.share import clip

LOCK, HIDE = "lock", "hide"
NAMES = LESSON_NAMES  # every name a lesson may lock or hide, in the order of the sidebar's controls
LOCK_NOTE = N_(":material/lock: Set by your teacher")  # under a locked control, on Train and on the Playground


@dataclass(frozen=True)
class Lesson:
    locked: frozenset[str] = field(default_factory=frozenset)
    hidden: frozenset[str] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.locked or self.hidden)

    def to_params(self) -> dict[str, str]:
        """The address parameters of this lesson (none for an empty one), names in the sidebar's order."""
        return {param: ",".join(n for n in NAMES if n in names)
                for param, names in ((LOCK, self.locked), (HIDE, self.hidden)) if names}


def _names(text) -> list[str]:
    if isinstance(text, (list, tuple)):
        text = ",".join(str(t) for t in text)
    return [n.strip() for n in str(text or "").split(",") if n.strip()]


def named(params: dict) -> set[str]:
    """Every name the address's lock and hide list, known or not."""
    return {name for param in (LOCK, HIDE) for name in _names(params.get(param))}


def parse(params: dict, names=NAMES) -> tuple[Lesson, list[str]]:
    """The lesson the address describes and one message per name it cannot use, like share.params_to_config's.
    `names`: the settings of the page that reads it (Train's by default)."""
    found: dict[str, set[str]] = {LOCK: set(), HIDE: set()}
    problems = []
    for param in (LOCK, HIDE):
        for name in _names(params.get(param)):
            if name in names:
                found[param].add(name)
            else:
                problems.append(f"{param}={clip(name)}: " + _("unknown setting"))
    return Lesson(frozenset(found[LOCK]), frozenset(found[HIDE])), problems


def lesson_params(settings: dict[str, str], lock, hide, view: dict[str, str] | None = None) -> dict[str, str]:
    """The parameters of a lesson link: the settings (share.config_to_params), the lesson, and the view parameters
    that are not the lesson's (the language)."""
    kept = {k: v for k, v in (view or {}).items() if k not in (LOCK, HIDE)}
    return {**settings, **Lesson(frozenset(lock), frozenset(hide)).to_params(), **kept}


def preset_note(preset: str, wanted, before, after, found: Lesson, label) -> str | None:
    """What choosing `preset` did in a lesson, in a sentence or two, or None when the form is the preset and no
    hidden setting changed: the locked settings that differ from the preset (`wanted`), and the hidden settings the
    preset changed (from `before` to `after`, the form's configs). `label(name)`: a setting's name in the sidebar."""
    def value(config, name):
        return format_value(getattr(config, name))

    kept = [n for n in NAMES if n in found.locked and n != "preset" and value(after, n) != value(wanted, n)]
    moved = [n for n in NAMES if n in found.hidden and n not in found.locked and value(before, n) != value(after, n)]
    parts = []
    if kept:
        items = [_("{setting} stays {value} (the preset's is {preset_value})", setting=label(n), value=value(after, n),
                   preset_value=value(wanted, n)) for n in kept]
        parts.append(_("This is the {preset} preset but for what your teacher fixed: {settings}.", preset=preset,
                       settings="; ".join(items)))
    if moved:
        items = [_("{setting} is now {value} (was {before})", setting=label(n), value=value(after, n),
                   before=value(before, n)) for n in moved]
        parts.append(_("The preset also changed settings this lesson does not show: {settings}.",
                       settings="; ".join(items)))
    return " ".join(parts) or None
