"""A photo's background is removed before the 28 x 28 image is made (fmnist/data/background.py): on synthetic
photos, a light, a gradient, a textured and a coloured background all become 0 and the garment stays."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fmnist.data.background import item_mask, remove_background
from fmnist.data.images import prepare_image

SIDE = 160


def garment_mask() -> np.ndarray:
    """A T-shirt's outline, off centre: a body and two sleeves."""
    mask = np.zeros((SIDE, SIDE), dtype=bool)
    mask[50:140, 40:100] = True  # body
    mask[50:75, 20:120] = True  # sleeves
    return mask


def backgrounds() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    light = np.full((SIDE, SIDE, 3), 0.9)
    return {
        "light": light,
        "gradient": light * (1.0 - 0.3 * xs)[..., None],
        "textured": np.array([0.75, 0.6, 0.45]) * (0.9 + 0.1 * np.sin(50 * ys + 4 * np.sin(7 * xs)))[..., None]
        + rng.normal(0, 0.02, (SIDE, SIDE, 3)),
        "coloured": np.broadcast_to([0.55, 0.75, 0.55], (SIDE, SIDE, 3)).copy(),
    }


def photo(kind: str) -> np.ndarray:
    out = backgrounds()[kind].copy()
    out[garment_mask()] = [0.2, 0.25, 0.55]  # a blue shirt
    return np.clip(out, 0, 1).astype(np.float32)


def as_png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.uint8(np.round(rgb * 255))).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("kind", list(backgrounds()))
def test_the_mask_is_the_garment(kind):
    found, truth = item_mask(photo(kind)), garment_mask()
    assert (found == truth).mean() > 0.98, f"{kind}: {(found != truth).sum()} pixels wrong"


@pytest.mark.parametrize("kind", list(backgrounds()))
def test_the_background_becomes_black_and_the_garment_stays(kind):
    item, mask = remove_background(photo(kind))
    garment = garment_mask()
    assert item[~garment & ~mask].max() == 0 and (~garment & ~mask).mean() > 0.5
    # The blue shirt differs from each background by at least 0.3 in gray or colour: that is what is left.
    assert np.median(item[garment]) > 0.3


@pytest.mark.parametrize("kind", list(backgrounds()))
def test_the_28x28_image_has_a_black_background(kind):
    img = prepare_image(as_png(photo(kind)), "shirt.png")
    kept = prepare_image(as_png(photo(kind)), "shirt.png", remove_background=False)
    # The garment's box fills the frame; the T-shirt's corners beside its body (background) are black.
    corner = (slice(20, 28), slice(0, 3))  # clear of the resampling's ring beside the body
    assert img[corner].max() == 0, f"{kind}: the background is left in the corner: {img[corner].max()}"
    assert img[10:20, 10:18].min() > 100  # the garment's body
    if kind in ("gradient", "textured"):  # what was left in before: the background above black
        assert kept[corner].max() > 0


def test_an_item_with_the_background_colour_inside_keeps_it():
    # A bag with a hole the colour of the background, shut in by the bag: part of the item, not background.
    rgb = photo("light")
    rgb[90:110, 60:80] = 0.9
    assert item_mask(rgb)[95:105, 65:75].all()


def test_product_photos_are_read_no_worse_with_the_background_removed():
    # The shipped default model on the product-like photos of tests/fixtures (tests/perf/product_photos.py prints
    # the figures docs/benchmarks.md records).
    from fmnist.inspect.predict import probabilities
    from fmnist.store import checkpoints
    from tests.perf.product_photos import PHOTOS, ROOT, true_class

    model = checkpoints.load(ROOT / "checkpoints" / "default.safetensors").model()
    paths = sorted(PHOTOS.glob("*.jpg"))
    assert len(paths) >= 10
    right = {}
    for removed in (False, True):
        right[removed] = sum(int(probabilities(model, prepare_image(p.read_bytes(), p.name, removed)).argmax())
                             == true_class(p) for p in paths)
    assert right[True] >= right[False], right
