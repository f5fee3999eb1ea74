"""The Playground's choices in the address as keys, the same in every language: ?dataset=spirals&activation=linear.

Streamlit's bind="query-params" writes a select box's shown label into the URL, so a Korean page wrote
?dataset=나선, which an English page could not read (and dropped without a word). The two controls whose options
have translated labels (dataset, activation) are therefore bound here by hand: the address's key fills the control,
the control's key is written back, a label in either language (an old link) is read as its key, and a value that is
neither is named in a notice instead of being dropped silently.
"""

from __future__ import annotations

import streamlit as st

from fmnist.playground import ACTIVATIONS, DATASETS, Setup
from ui.i18n import LANGUAGES, N_, _, gettext

DEFAULT = Setup()
DATASET_LABELS = {"xor": N_("xor"), "circles": N_("circles"), "gaussians": N_("gaussians"), "spirals": N_("spirals")}
ACTIVATION_LABELS = {"linear": N_("linear")}  # tanh, relu and sigmoid are names, shown as they are
KEYED = {"dataset": (DATASETS, DEFAULT.dataset, DATASET_LABELS),
         "activation": (ACTIVATIONS, DEFAULT.activation, ACTIVATION_LABELS)}
SEEN = "pg_address_seen"  # each keyed parameter's value as this session last read or wrote it
PROBLEMS = "pg_address_problems"


def key_for(asked: str, name: str) -> str | None:
    """The option `asked` names: the key itself, or its label in any language; None when it names none."""
    options, _default, labels = KEYED[name]
    if asked in options:
        return asked
    return next((key for key, label in labels.items() for lang in LANGUAGES
                 if asked in (gettext(label, lang), gettext(label, lang).lower())), None)


def read_address() -> list[str]:
    """Before the form: each keyed parameter that the address changed fills its control. Returns the notices for the
    values it could not read (kept for the session until the address changes again)."""
    state = st.session_state
    seen = state.setdefault(SEEN, {})
    problems = state.setdefault(PROBLEMS, {})
    for name, (options, default, _labels) in KEYED.items():
        asked = st.query_params.get(name)
        if asked is None or asked == seen.get(name):
            continue
        seen[name] = asked
        value = key_for(asked, name)
        problems.pop(name, None)
        if value is None:
            problems[name] = _("The address asks for {name}={value}, which the Playground does not know; it shows "
                               "{shown} (one of {options}).", name=name, value=asked[:40],
                               shown=state.get(name, default), options=", ".join(options))
        else:
            state[name] = value
    return list(problems.values())


def write_address() -> None:
    """After the form: each keyed control's value into the address as its key (left out when it is the default)."""
    seen = st.session_state.setdefault(SEEN, {})
    for name, (_options, default, _labels) in KEYED.items():
        value = st.session_state.get(name, default)
        if value == default:
            if name in st.query_params:
                del st.query_params[name]
            seen[name] = None
        else:
            st.query_params[name] = value
            seen[name] = value
