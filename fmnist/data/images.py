"""Turn uploaded images and canvas drawings into 28x28 Fashion-MNIST-style inputs.

Fashion-MNIST items are light on a black background, trimmed to their bounding box, scaled so the
longer side fills the whole 28 px frame and centred. The functions below reproduce that framing for
arbitrary user input and turn every way the input can be unusable into an ``ImageError`` whose
one-line message starts with the file name, so callers can show it as is.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fmnist.messages import N_

if TYPE_CHECKING:
    import torch

MAX_PIXELS = 40_000_000
SIDE = 28
# Measured on the 10,000 test images: the longer side of the bounding box is 28 px in 98% of them
# (27 px in almost all the rest), so the dataset has no margin and neither do we.
ITEM_SIDE = 28
FOREGROUND = 0.1  # above the background level; ~25/255, what the dataset's item boxes were measured with
BORDER = 0.1  # fraction of each side that counts as the frame used to estimate the background
# Bounding boxes need no more resolution than ~2048 x 2048; shrinking bigger inputs to that area caps memory.
# By area, not by side, so that a thin strip keeps enough rows for its border to be told from its item.
WORK_PIXELS = 2048 * 2048
PHOTO_PIXELS = 1024 * 1024  # a photo's background is found on a copy no larger than this
PHOTO_MODES = ("RGB", "L", "P", "CMYK", "YCbCr")

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, what Pillow's convert("L") uses


class ImageError(ValueError):
    """The input cannot be used; the message is one line and names the file."""


class BlankImageError(ImageError):
    """The input is readable but holds nothing to classify."""


def _unreadable(data: bytes) -> str:
    """Why Pillow could not identify the file, as a template for its {name}."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in head:
        return N_("{name}: SVG is not supported, export it as PNG")
    if b"<html" in head or head.startswith(b"<!doctype html"):
        return N_("{name}: this is an HTML page, not an image")
    if all(b >= 0x20 or b in b"\t\n\r\f" for b in head):
        return N_("{name}: this is a text file, not an image")
    return N_("{name}: not an image format that can be read")


def open_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode ``data`` fully (first frame, EXIF orientation applied) or raise ``ImageError``."""
    if not data:
        raise ImageError(N_("{name}: the file is empty").format(name=name))
    too_large = N_("{name}: the image is too large (the limit is {limit} pixels)").format(
        name=name, limit=f"{MAX_PIXELS:,}")
    # Pillow's own bomb check warns above Image.MAX_IMAGE_PIXELS and raises above twice that; both are
    # refusals here, and as an error the warning stays out of the logs. catch_warnings is process-wide,
    # but a race with another thread can only change whether that one warning is logged.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(too_large) from exc
        except UnidentifiedImageError as exc:
            raise ImageError(_unreadable(data).format(name=name)) from exc
        except Exception as exc:  # a corrupt header can surface as almost any exception type
            raise ImageError(N_("{name}: the file is damaged and cannot be read").format(name=name)) from exc
        # Image.open has only parsed the header here, so this refuses a bomb before any pixel is allocated.
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise ImageError(N_("{name}: the image is too large ({width} x {height} = {pixels} pixels; the limit is "
                                "{limit})").format(name=name, width=f"{width:,}", height=f"{height:,}",
                                                   pixels=f"{width * height:,}", limit=f"{MAX_PIXELS:,}"))
        if width * height == 0:
            raise ImageError(N_("{name}: the image has no pixels").format(name=name))
        try:
            # Pillow decodes lazily and, with LOAD_TRUNCATED_IMAGES off, load() is where truncation shows up.
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(too_large) from exc
        except Exception as exc:
            raise ImageError(N_("{name}: the file is damaged or truncated").format(name=name)) from exc
    # A malformed EXIF block should cost the orientation, not the whole image.
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError, IndexError, SyntaxError):
        img = ImageOps.exif_transpose(img)
    return img


def _composite(lum: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Flatten gray + alpha (both [0, 1]) over whichever of black or white the visible content contrasts with.

    A drawing of white strokes on a transparent canvas vanishes over white and a dark product cut-out
    vanishes over black, so the background is chosen from the alpha-weighted mean brightness of what is
    visible; prepare_array's polarity step then makes the item light on dark either way.
    """
    weight = float(alpha.sum())
    background = 0.0 if weight > 0 and float((lum * alpha).sum()) / weight > 0.5 else 1.0
    return lum * alpha + background * (1.0 - alpha)


def _as_unit(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32) / 255.0


def to_grayscale(img: Image.Image, name: str | None = None) -> np.ndarray:
    """float32 HxW array in [0, 1] for any Pillow mode, transparency composited; `name` is the file's, for errors."""
    mode = img.mode
    if {"A", "a"} & set(img.getbands()) or ("transparency" in img.info and mode in ("1", "L", "P", "RGB")):
        rgba = img.convert("RGBA")
        return _composite(_as_unit(rgba.convert("L")), _as_unit(rgba.getchannel("A")))
    if mode.startswith("I;16"):
        return np.asarray(img, dtype=np.float32) / 65535.0
    if mode == "I":
        arr = np.clip(np.asarray(img, dtype=np.float32), 0, 65535)
        # 32-bit 'I' carries no bit depth; 16-bit files land here on some Pillow versions, 8-bit data rarely.
        return arr / (65535.0 if arr.size and arr.max() > 255 else 255.0)
    if mode == "F":
        arr = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        low, high = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if low >= 0 and high <= 1:
            return arr
        if low >= 0 and high <= 255:
            return arr / 255.0
        return (arr - low) / (high - low) if high > low else np.zeros_like(arr)
    if mode not in ("1", "L", "RGB"):
        try:
            img = img.convert("RGB")  # CMYK, YCbCr, P, HSV...
        except ValueError as exc:
            if name is None:
                raise ImageError(f"unsupported colour mode {mode}") from exc
            raise ImageError(N_("{name}: unsupported colour mode {mode}").format(name=name, mode=mode)) from exc
    # Through 8-bit L rather than float RGB: a quarter of the memory for a 40-megapixel photo.
    return _as_unit(img.convert("L"))


def _resize(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    # Pillow's LANCZOS widens its kernel when shrinking, so this is antialiased in both directions.
    out = Image.fromarray(np.ascontiguousarray(arr, dtype=np.float32)).resize(
        (width, height), Image.Resampling.LANCZOS, reducing_gap=3.0
    )
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def prepare_array(gray: np.ndarray, name: str = "image") -> np.ndarray:
    """uint8 28x28 with a light item on black, framed like Fashion-MNIST, from a gray [0, 1] array."""
    gray = np.array(gray, dtype=np.float32)  # one private copy, cleaned in place
    if gray.ndim != 2 or gray.size == 0:
        raise ImageError(N_("{name}: expected a non-empty 2-D gray image, got shape {shape}").format(
            name=name, shape=gray.shape))
    np.clip(np.nan_to_num(gray, copy=False, nan=0.0), 0.0, 1.0, out=gray)
    height, width = gray.shape
    if height * width > WORK_PIXELS:
        scale = (WORK_PIXELS / (height * width)) ** 0.5
        gray = _resize(gray, max(1, round(width * scale)), max(1, round(height * scale)))
        height, width = gray.shape

    bh, bw = max(1, round(height * BORDER)), max(1, round(width * BORDER))
    frame = np.concatenate(
        [gray[:bh].ravel(), gray[-bh:].ravel(), gray[:, :bw].ravel(), gray[:, -bw:].ravel()]
    )
    # The most common frame level rather than the median: a tightly cropped item touches two opposite
    # edges (every dataset item does), but the background is flat while the item is textured.
    bins = np.minimum((frame * 20).astype(np.intp), 19)
    background = float(np.median(frame[bins == np.bincount(bins).argmax()]))
    # The border gives the background level; whether the item is lighter or darker than it decides the
    # polarity. This also covers mid-gray backgrounds, where "is the border brighter than 0.5" guesses.
    darker = float(np.clip(background - gray - FOREGROUND, 0, None).sum())
    lighter = float(np.clip(gray - background - FOREGROUND, 0, None).sum())
    if darker > lighter:
        gray, background = 1.0 - gray, 1.0 - background
    item = np.clip(gray - background, 0.0, None)
    mask = item > FOREGROUND
    if not mask.any():
        raise BlankImageError(N_("{name}: nothing to classify (the image is blank or uniform)").format(name=name))

    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    item = item[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = item.shape
    scale = ITEM_SIDE / max(h, w)
    new_w, new_h = min(SIDE, max(1, round(w * scale))), min(SIDE, max(1, round(h * scale)))
    small = _resize(item, new_w, new_h)
    peak = float(small.max())
    # Dataset items all peak at 254-255, so a faint drawing or a gray product is stretched to match.
    if peak > 0:
        small /= peak
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    # Rounding the offset up matches the dataset, whose box centres average 13.6 rather than 13.5.
    top, left = (SIDE - new_h + 1) // 2, (SIDE - new_w + 1) // 2
    out[top : top + new_h, left : left + new_w] = small
    return np.round(out * 255.0).astype(np.uint8)


def _photo_gray(img: Image.Image) -> np.ndarray | None:
    """A photo's item light on black, its background removed (fmnist.data.background), or None for an image that has
    transparency (its background is already gone), is not in a colour mode a photo comes in, or is mostly black at
    its border: the dataset's own framing, which the removal would only change (an item touching the edges
    skews the fitted background), and a drawing's."""
    if {"A", "a"} & set(img.getbands()) or "transparency" in img.info or img.mode not in PHOTO_MODES:
        return None
    from fmnist.data.background import remove_background

    small = img.convert("RGB")
    if small.width * small.height > PHOTO_PIXELS:  # the mask needs no more; a float copy of 40 MP would be 480 MB
        scale = (PHOTO_PIXELS / (small.width * small.height)) ** 0.5
        small = small.resize((max(1, round(small.width * scale)), max(1, round(small.height * scale))),
                             Image.Resampling.BOX)
    rgb = _as_unit(small)
    lum = rgb @ _LUMA
    edge = np.concatenate([lum[0], lum[-1], lum[:, 0], lum[:, -1]])
    if float(np.median(edge)) < FOREGROUND:
        return None
    item, mask = remove_background(rgb)
    return item if mask.any() else None


def prepare_image(data: bytes, name: str = "image", remove_background: bool = True) -> np.ndarray:
    """28x28 uint8 model input from the bytes of an uploaded file; a photo's background is removed first unless
    remove_background is False (kept for measuring what the removal does, docs/benchmarks.md)."""
    img = open_image(data, name)
    gray = _photo_gray(img) if remove_background else None
    return prepare_array(to_grayscale(img, name) if gray is None else gray, name)


def prepare_canvas(rgba: np.ndarray | None) -> np.ndarray:
    """28x28 uint8 model input from streamlit-drawable-canvas ``image_data`` (HxWx4 uint8)."""
    if rgba is None:  # the canvas reports None before its first render
        raise BlankImageError("drawing: nothing to classify (the image is blank or uniform)")
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageError(N_("drawing: expected an HxWx4 RGBA array, got shape {shape}").format(shape=arr.shape))
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    lum = arr[..., :3].astype(np.float32) @ (_LUMA / 255.0)
    alpha = arr[..., 3] / np.float32(255.0) if arr.shape[2] == 4 else np.ones_like(lum)
    return prepare_array(_composite(lum, alpha), name="drawing")


def model_input(img28: np.ndarray) -> torch.Tensor:
    """A prepared uint8 image (or batch) as the model takes it: float32 (..., 784) with the training normalisation
    (fmnist.data.dataset.normalize, which takes a uint8 tensor)."""
    import torch  # lazily, so the image helpers work where torch is not installed

    from fmnist.data.dataset import normalize

    arr = np.asarray(img28)
    if arr.ndim < 2 or arr.shape[-2:] != (SIDE, SIDE):
        raise ValueError(f"expected a 28x28 image or a batch of them, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    # torch.from_numpy warns on a read-only array (a decoded upload or a memory map): copy those, share the rest.
    return normalize(torch.from_numpy(arr if arr.flags.writeable else arr.copy()))
