"""A setting's value as text and back, the same everywhere: CLI flags, URL parameters, sweep choices, the export
script's command line. One boolean parser, one way to write a float (the shortest text that reads back as the same
number)."""

from __future__ import annotations

from fmnist.config.settings import BY_NAME
from fmnist.messages import N_

TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


class ValueTextError(ValueError):
    """A text that is not a value of its setting; `expected` says what would be (English, for the app to translate)."""

    def __init__(self, expected: str):
        self.expected = expected
        super().__init__(expected)


def parse_bool(text: str) -> bool:
    low = str(text).strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise ValueTextError(N_("expected true or false"))


def parse_widths(text: str) -> tuple[int, ...]:
    """Whole numbers separated by commas; "0", "none" or nothing is the empty list (no convolution blocks)."""
    text = str(text).replace(" ", "")
    if text.lower() in ("", "0", "none"):
        return ()
    try:
        return tuple(int(w) for w in text.split(",") if w)
    except ValueError:
        raise ValueTextError(N_("expected whole numbers separated by commas, like 1024,128,64")) from None


def parse_number(text: str) -> float:
    """Any float, nan and inf included: the setting's own bounds (TrainConfig.errors()) refuse those, by name."""
    try:
        return float(text)
    except ValueError:
        raise ValueTextError(N_("expected a number")) from None


def parse_whole(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise ValueTextError(N_("expected a whole number")) from None


PARSERS = {tuple: parse_widths, bool: parse_bool, int: parse_whole, float: parse_number, str: lambda t: str(t).strip()}


def parse(name: str, text: str):
    """The value of setting `name` from its text; ValueTextError saying what was expected when it is not one.
    Choices are not checked here: TrainConfig.errors() says which are allowed."""
    return PARSERS[BY_NAME[name].kind](str(text).strip())


def format_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    return str(value)


def flags(config, base) -> list[str]:
    """The CLI flags that turn `base` into `config` (device left out: it belongs to the machine)."""
    out = []
    for s in BY_NAME.values():
        value = getattr(config, s.name)
        if s.name == "device" or value == getattr(base, s.name):
            continue
        if s.kind is bool:
            out.append(s.flag if value else "--no-" + s.flag[2:])
        else:
            out += [s.flag, format_value(value)]
    return out
