"""The marker for English text the app shows translated.

N_() returns its text unchanged: the engine speaks English. `make messages` (Babel's extraction) reads N_() in
fmnist/ as in the app, so the Korean catalog takes such text from where the engine writes it, with no copy in ui/.
"""


def N_(text: str) -> str:  # noqa: N802 (gettext's conventional name for a no-op marker)
    return text
