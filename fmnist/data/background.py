"""Remove a photo's background before it is framed as a Fashion-MNIST item.

Fashion-MNIST's items have no background: the garment on pure black. A product photo has one, often not flat (a
gradient of light, a shadow, a texture, a colour), and whatever of it is left above black becomes part of the item
the model sees, and widens the box the item is framed by. The background is estimated from the image's border (a
plane per colour channel, so a gradient of light is followed) and every pixel that matches it and is connected to
the border is set to black; what is left is the item, as its distance from the background.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

BORDER = 0.06  # fraction of each side that is taken as the background's sample
WORK_SIDE = 256  # the mask is found on a copy no larger than this (enough for a 28 x 28 result), then scaled up
MIN_STEP = 0.08  # the smallest colour distance from the background that counts as the item (0-1 per channel)
NOISE_STEPS = 3.5  # and above the background's own variation (texture, noise) by this many robust deviations
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # Pillow's gray, as fmnist.data.images uses
SPECK = 0.02  # parts of the item smaller than this share of the largest part are noise and dropped


def _border(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    bh, bw = max(1, round(h * BORDER)), max(1, round(w * BORDER))
    mask = np.zeros((h, w), dtype=bool)
    mask[:bh], mask[-bh:], mask[:, :bw], mask[:, -bw:] = True, True, True, True
    return mask


def background_plane(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The background as fitted to the border (HxWx3, a plane a + bx + cy per channel) and the border's spread
    around it (a robust standard deviation of the colour distance). The fit is done twice: the second time without
    the border pixels that fit worst, which are the item where it touches the edge."""
    h, w, _ = rgb.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    design = np.stack([np.ones_like(xs), xs / max(w - 1, 1), ys / max(h - 1, 1)], axis=-1)
    edge = _border((h, w))
    a, b = design[edge], rgb[edge]
    keep = np.ones(len(a), dtype=bool)
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(a[keep], b[keep], rcond=None)
        dist = np.linalg.norm(a @ coef - b, axis=1)
        keep = dist <= np.quantile(dist, 0.7) + 1e-6
    spread = float(1.4826 * np.median(np.abs(dist[keep] - np.median(dist[keep]))) + np.median(dist[keep]))
    return design @ coef, spread


def _image(mask: np.ndarray, value: int) -> Image.Image:
    """A mask as an 8-bit image that floodfill can write (one made by fromarray shares the array, read-only)."""
    return Image.fromarray(mask.astype(np.uint8) * np.uint8(value)).copy()


def _connected_to_border(like: np.ndarray) -> np.ndarray:
    """The pixels of `like` (a bool mask) that are joined to the image's edge through other such pixels."""
    h, w = like.shape
    img = _image(like, 127)
    edge = np.argwhere(_border((h, w)) & like)
    for y, x in edge[:: max(1, len(edge) // 4000)]:
        if img.getpixel((int(x), int(y))) == 127:
            ImageDraw.floodfill(img, (int(x), int(y)), 255)
    return np.asarray(img) == 255


def _drop_specks(item: np.ndarray) -> np.ndarray:
    """The item mask without parts much smaller than its largest: noise or texture that stood out."""
    img = _image(item, 1)  # 1: item not yet measured
    parts = []  # (size, a pixel of it)
    for y, x in np.argwhere(item):
        if img.getpixel((int(x), int(y))) == 1:
            ImageDraw.floodfill(img, (int(x), int(y)), 2)
            parts.append((img.histogram()[2], (int(x), int(y))))
            ImageDraw.floodfill(img, (int(x), int(y)), 3)  # measured
    keep = _image(item, 1)
    largest = max((size for size, _ in parts), default=0)
    for size, seed in parts:
        if size >= SPECK * largest:
            ImageDraw.floodfill(keep, seed, 2)
    return np.asarray(keep) == 2


def item_mask(rgb: np.ndarray) -> np.ndarray:
    """True where the item is: not like the background, or shut in by the item (a garment's part that happens to
    have the background's colour), at the work size's resolution scaled back to rgb's."""
    h, w, _ = rgb.shape
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = rgb
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = np.asarray(Image.fromarray(np.uint8(np.clip(rgb, 0, 1) * 255)).resize(
            size, Image.Resampling.BOX), dtype=np.float32) / 255.0
    plane, spread = background_plane(small)
    dist = np.linalg.norm(small - plane, axis=-1)
    like = dist <= max(MIN_STEP, NOISE_STEPS * spread)
    # An opening (3 x 3) first: one-pixel specks of a noisy or textured background go at once, instead of each
    # being measured as a part of its own.
    opened = _image(~_connected_to_border(like), 255).filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(3))
    item = _drop_specks(np.asarray(opened) > 0)
    if scale < 1.0:
        item = np.asarray(Image.fromarray(item.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)) > 0
    return item


def remove_background(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(item, mask) for an HxWx3 [0, 1] photo: the item light on black, as the dataset has it, and its mask.

    Inside the mask each pixel is its distance from the fitted background: in gray (a dark garment on a light
    table is bright, as the dataset's negatives have it) or in colour, whichever is larger, so a green dress on
    a wood table of the same gray is a garment, not an outline. Outside, 0."""
    mask = item_mask(rgb)
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.float32), mask
    plane, _ = background_plane(rgb)
    colour = np.linalg.norm(rgb - plane, axis=-1) / np.sqrt(3)
    gray = np.abs((rgb - plane) @ LUMA)
    return np.where(mask, np.maximum(gray, colour), 0.0).astype(np.float32), mask
