"""Teacher mode on the Playground, read from the address as on Train (ui/train/lesson.py): ``?lock=dataset,hidden``
shows those controls disabled at the link's values (or the defaults), and a story button leaves them so;
``?hide=l1,l2`` leaves those controls out, their values still coming from the link or the defaults. The names are the
Playground's URL parameters, Setup's fields, the one table of its URL state; a name that is none of them is named in
the notice Train gives ("lock=colour: unknown setting").
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from fmnist.playground import Setup
from ui.playground.address import KEYED
from ui.train import lesson

NAMES = tuple(f.name for f in dataclasses.fields(Setup))  # every setting of the form, each bound to its own parameter


def read() -> tuple[lesson.Lesson, list[str]]:
    """The lesson the address holds now (it stays in the address, beside the bound settings), and its problems."""
    params = {param: st.query_params.get_all(param) for param in (lesson.LOCK, lesson.HIDE)}
    return lesson.parse(params, NAMES)


def locked() -> frozenset[str]:
    return read()[0].locked


def link_value(name: str, default):
    """The value the address gives a setting whose control is hidden, as the form holds it (`default`'s type: the
    hidden layers as their text, the features as a list); the default when it gives none it can read, as Streamlit
    drops a bound parameter it cannot use. A value it can read but Setup refuses is refused as any other. The
    dataset and the activation are read by ui/playground/address.py, which names a value it cannot read."""
    if name in KEYED:
        return default
    if name == "features":
        return st.query_params.get_all(name) or default
    asked = st.query_params.get(name)
    if asked is None:
        return default
    try:
        return type(default)(asked)
    except ValueError:
        return default
