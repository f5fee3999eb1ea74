"""Names the engine keeps in English (fmnist.data.dataset.CLASSES), as the session's language shows them."""

from __future__ import annotations

from ui.i18n import N_, _

# Declared for the catalog: the ten Fashion-MNIST classes, in the engine's order.
CLASS_NAMES = (N_("T-shirt/top"), N_("Trouser"), N_("Pullover"), N_("Dress"), N_("Coat"), N_("Sandal"), N_("Shirt"),
               N_("Sneaker"), N_("Bag"), N_("Ankle boot"))


def class_name(name: str) -> str:
    """A class's name in the session's language (the engine's English name goes in)."""
    return _(name)
