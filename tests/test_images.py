"""Tests for fmnist.data.images: every fixture is generated here with Pillow, nothing is downloaded."""

import gzip
import io
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile, features

from fmnist.data.images import (
    MAX_PIXELS,
    BlankImageError,
    ImageError,
    model_input,
    open_image,
    prepare_array,
    prepare_canvas,
    prepare_image,
    to_grayscale,
)

DATASET = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


def encode(img: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def shirt_mask(scale: int = 10) -> Image.Image:
    """Binary silhouette of a shirt, 22 wide x 28 tall in units of ``scale`` px (dataset items fill 28 px)."""
    s = scale
    img = Image.new("L", (28 * s, 28 * s), 0)
    draw = ImageDraw.Draw(img)
    draw.polygon([(3 * s, 0), (25 * s, 0), (25 * s, 12 * s), (3 * s, 12 * s)], fill=255)  # shoulders
    draw.rectangle([7 * s, 0, 21 * s - 1, 28 * s - 1], fill=255)  # body
    draw.ellipse([11 * s, -3 * s, 17 * s, 3 * s], fill=0)  # neckline
    return img


def shirt_item() -> np.ndarray:
    """28x28 uint8 light shirt on black with a vertical shading, like a dataset image."""
    mask = np.asarray(shirt_mask().resize((28, 28), Image.Resampling.BOX), dtype=np.float32) / 255
    shade = np.linspace(255, 140, 28, dtype=np.float32)[:, None]
    return np.round(mask * shade).astype(np.uint8)


def item_photo(size=(300, 200), offset=(80, 20), dark=(30, 40, 110)) -> Image.Image:
    """RGB product-style photo: a dark shirt on white, not square, not centred."""
    img = Image.new("RGB", size, "white")
    img.paste(Image.new("RGB", (280, 280), dark).resize((150, 150)), offset, shirt_mask().resize((150, 150)))
    return img


def bomb_png(width: int, height: int, bit_depth: int = 1) -> bytes:
    """A valid grayscale PNG of zeros, written chunk by chunk so the pixels never exist in memory."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (width * bit_depth + 7) // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return prepare_image(encode(Image.fromarray(shirt_item())), "shirt.png")


# --- refusals -------------------------------------------------------------------------------------


def assert_refused(data: bytes, name: str, fragment: str, cls=ImageError) -> str:
    with pytest.raises(cls) as info:
        open_image(data, name)
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message
    assert fragment in message
    return message


def test_empty_file():
    assert assert_refused(b"", "photo.png", "empty") == "photo.png: the file is empty"


def test_text_renamed_png():
    assert_refused(b"shopping list\n- shirt\n- trousers\n", "notes.png", "text file")


def test_html():
    assert_refused(b"<!DOCTYPE html>\n<html><body><img src='x.png'></body></html>", "page.png", "HTML")


@pytest.mark.parametrize(
    "svg",
    [
        b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>',
        b'<svg width="10" height="10" xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>',
    ],
)
def test_svg(svg):
    message = assert_refused(svg, "logo.svg", "SVG")
    assert message == "logo.svg: SVG is not supported, export it as PNG"


def test_unknown_binary():
    junk = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
    assert_refused(b"\x00\xffJUNK" + junk, "blob.bin", "not an image")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated(fmt):
    noise = np.random.default_rng(1).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    Image.open(io.BytesIO(data)).load()  # the untruncated file is fine
    assert_refused(data[: len(data) // 2], f"cut.{fmt.lower()}", "truncated")
    assert_refused(data[:60], f"cut.{fmt.lower()}", f"cut.{fmt.lower()}: ")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    data = bomb_png(30_000, 30_000)
    assert len(data) < 200_000
    return data


@pytest.mark.serial  # timed: runs alone, after the parallel part of `make test`
def test_decompression_bomb_refused_quickly(huge_png):
    start = time.perf_counter()
    assert_refused(huge_png, "bomb.png", "too large")
    with pytest.raises(ImageError, match="too large"):
        prepare_image(huge_png, "bomb.png")
    assert time.perf_counter() - start < 1.0


@pytest.mark.serial
def test_bomb_refused_without_pillows_own_limit(huge_png, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    start = time.perf_counter()
    message = assert_refused(huge_png, "bomb.png", "30,000 x 30,000")
    assert "too large" in message and f"{MAX_PIXELS:,}" in message
    assert time.perf_counter() - start < 1.0


@pytest.mark.serial
def test_over_our_limit_but_under_pillows():
    data = bomb_png(7_000, 6_000, bit_depth=8)  # 42 Mpx: Pillow would still decode it
    start = time.perf_counter()
    assert_refused(data, "big.png", "7,000 x 6,000")
    assert time.perf_counter() - start < 1.0


# --- formats and modes ----------------------------------------------------------------------------


def bar_frame(vertical: bool) -> Image.Image:
    img = Image.new("L", (60, 60), 0)
    box = [25, 5, 35, 55] if vertical else [5, 25, 55, 35]
    ImageDraw.Draw(img).rectangle(box, fill=255)
    return img


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animated_uses_first_frame(fmt):
    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("Pillow built without WebP")
    first, second = bar_frame(True), bar_frame(False)
    extra = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(first, fmt, save_all=True, append_images=[second], duration=100, loop=0, **extra)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    out = prepare_image(data, f"anim.{fmt.lower()}")
    assert corr(out, prepare_image(encode(first))) > 0.95
    assert corr(out, prepare_image(encode(second))) < 0.3


def test_one_pixel_is_blank():
    with pytest.raises(BlankImageError, match=r"^dot\.png: nothing to classify"):
        prepare_image(encode(Image.new("L", (1, 1), 200)), "dot.png")
    with pytest.raises(BlankImageError):
        prepare_array(np.ones((1, 1), np.float32))


@pytest.mark.serial
@pytest.mark.parametrize("transpose", [False, True])
def test_extreme_strip(transpose):
    strip = np.zeros((10, 10_000), np.uint8)
    strip[3:7, 500:9500] = 255
    if transpose:
        strip = strip.T.copy()
    start = time.perf_counter()
    out = prepare_image(encode(Image.fromarray(strip)), "strip.png")
    assert time.perf_counter() - start < 2.0
    assert out.shape == (28, 28) and out.dtype == np.uint8 and out.max() == 255
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    long, short = (rows, cols) if transpose else (cols, rows)
    assert long[-1] - long[0] + 1 == 28
    assert 1 <= short[-1] - short[0] + 1 <= 3
    line = out.max(axis=1 if transpose else 0)
    assert line.min() > 200  # a solid bright line, not its inverse (two bright stubs at the ends)


def test_sixteen_bit_matches_eight_bit():
    item8 = np.asarray(Image.fromarray(shirt_item()).resize((112, 112), Image.Resampling.BICUBIC))
    data16 = encode(Image.fromarray(item8.astype(np.uint16) * 257))
    assert Image.open(io.BytesIO(data16)).mode.startswith("I")
    out16 = prepare_image(data16, "deep.png")
    out8 = prepare_image(encode(Image.fromarray(item8)), "shallow.png")
    assert np.abs(out16.astype(int) - out8.astype(int)).max() <= 2


def test_cmyk_jpeg():
    photo = item_photo()
    data = encode(photo.convert("CMYK"), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    out = prepare_image(data, "print.jpg")
    assert corr(out, prepare_image(encode(photo))) > 0.95


@pytest.mark.parametrize(
    "orientation, rotation", [(6, Image.Transpose.ROTATE_270), (8, Image.Transpose.ROTATE_90)]
)
def test_exif_orientation(orientation, rotation):
    img = Image.new("L", (120, 80), 255)
    draw = ImageDraw.Draw(img)
    draw.rectangle([10, 10, 30, 70], fill=0)  # an L shape: no rotation maps it onto itself
    draw.rectangle([10, 55, 100, 70], fill=0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(img, "JPEG", quality=95, exif=exif.tobytes())
    assert open_image(data, "phone.jpg").size == (80, 120)
    out = prepare_image(data, "phone.jpg")
    assert corr(out, prepare_image(encode(img.transpose(rotation)))) > 0.95
    assert corr(out, prepare_image(encode(img))) < 0.5


@pytest.mark.parametrize("colour", [(20, 30, 90), (255, 255, 255), (250, 235, 120)])
def test_transparent_png(colour):
    mask = shirt_mask().resize((140, 140))
    rng = np.random.default_rng(2)
    rgba = np.dstack([rng.integers(0, 256, (200, 180, 3), dtype=np.uint8), np.zeros((200, 180), np.uint8)])
    img = Image.fromarray(rgba)  # colour noise hidden under alpha 0 must not leak into the result
    img.paste(Image.new("RGBA", (140, 140), colour + (255,)), (20, 30), mask)
    out = prepare_image(encode(img), "cutout.png")
    expected = prepare_image(encode(shirt_mask()), "mask.png")
    assert corr(out, expected) > 0.95


def test_palette_image(reference):
    img = (
        Image.fromarray(shirt_item()).resize((84, 84)).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    )
    data = encode(img)
    assert Image.open(io.BytesIO(data)).mode == "P"
    assert corr(prepare_image(data, "indexed.png"), reference) > 0.95


def test_to_grayscale_modes():
    bilevel = Image.new("1", (4, 3), 1)
    assert to_grayscale(bilevel).dtype == np.float32 and np.all(to_grayscale(bilevel) == 1.0)
    assert np.allclose(to_grayscale(Image.fromarray(np.full((2, 2), 65535, np.uint16))), 1.0)
    assert np.allclose(to_grayscale(Image.fromarray(np.full((2, 2), 0.25, np.float32))), 0.25)
    pal = Image.new("P", (4, 1), 0)
    pal.putpalette([0, 0, 0, 50, 50, 50] + [0] * 762)
    pal.putpixel((1, 0), 1)
    pal.info["transparency"] = 0
    gray = to_grayscale(pal)
    # the visible pixel is dark, so the transparent ones become white, not the black under them
    assert gray[0, 0] == pytest.approx(1.0) and gray[0, 1] == pytest.approx(50 / 255, abs=0.01)
    la = Image.fromarray(np.dstack([np.full((2, 2), 255, np.uint8), np.array([[0, 255], [0, 0]], np.uint8)]))
    assert np.allclose(to_grayscale(la.convert("LA")), [[0, 1], [0, 0]])


# --- blank inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(300, 300, 4), (1, 1, 4), (200, 400, 3)])
def test_blank_canvas(shape):
    with pytest.raises(BlankImageError, match=r"^drawing: nothing to classify"):
        prepare_canvas(np.zeros(shape, np.uint8))


def test_canvas_none_and_bad_shape():
    with pytest.raises(BlankImageError):
        prepare_canvas(None)
    with pytest.raises(ImageError, match="drawing"):
        prepare_canvas(np.zeros((10, 10), np.uint8))


def test_canvas_drawing(reference):
    strokes = shirt_mask().resize((200, 200))
    rgba = np.zeros((280, 280, 4), np.uint8)
    region = np.asarray(strokes)[:, :, None] > 127
    rgba[40:240, 40:240] = np.where(region, 255, 0).astype(np.uint8)  # white, opaque where drawn
    out = prepare_canvas(rgba)
    assert corr(out, prepare_image(encode(shirt_mask()))) > 0.95


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("mode, value", [("L", 128), ("RGB", (200, 120, 40)), ("L", 255), ("L", 0)])
def test_uniform_image_is_blank(fmt, mode, value):
    data = encode(Image.new(mode, (120, 80), value), fmt)
    with pytest.raises(BlankImageError, match="blank or uniform"):
        prepare_image(data, "flat.img")


# --- framing invariance ---------------------------------------------------------------------------


def test_dataset_like_item_round_trips(reference):
    item = shirt_item()
    assert reference.shape == (28, 28) and reference.dtype == np.uint8
    assert corr(reference, item) > 0.99 and mad(reference, item) < 3


def test_framing_invariance(reference):
    item = Image.fromarray(shirt_item())
    big = item.resize((280, 280), Image.Resampling.LANCZOS)
    padded = Image.new("L", (500, 310), 0)
    padded.paste(big, (40, 15))
    photo = Image.new("L", (700, 400), 255)
    photo.paste(Image.eval(big, lambda v: 255 - v), (380, 90))
    variants = {
        "upscaled": encode(big),
        "inverted": encode(Image.eval(item, lambda v: 255 - v)),
        "padded": encode(padded),
        "photo": encode(photo.convert("RGB"), "JPEG", quality=90),
    }
    for label, data in variants.items():
        out = prepare_image(data, label)
        assert corr(out, reference) > 0.9, label
        assert mad(out, reference) < 15, label
    # the same checks must reject a different item, or they would prove nothing
    flipped = prepare_image(encode(item.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    assert corr(flipped, reference) < 0.9 or mad(flipped, reference) >= 15


def test_item_covering_most_of_the_border():
    # Dataset items touch two opposite edges and big ones most of the frame; the flat background must
    # still be recognised as background, or the polarity flips and the item comes out as its negative.
    rng = np.random.default_rng(3)
    item = rng.uniform(0.3, 1.0, (28, 28)).astype(np.float32)
    for rows, cols in [
        (slice(0, 6), slice(0, 6)),
        (slice(0, 6), slice(22, 28)),
        (slice(22, 28), slice(0, 6)),
    ]:
        item[rows, cols] = 0.0
    item[22:, 22:] = 0.0
    out = prepare_array(item, "pullover")
    assert corr(out, item) > 0.95
    assert out[0, 0] == 0 and out[14, 14] > 0


@pytest.mark.parametrize("background, item", [(0.45, 0.05), (0.55, 0.95), (0.0, 0.3), (1.0, 0.8)])
def test_polarity_and_contrast(background, item):
    # Mid-gray backgrounds defeat a fixed "border brighter than 0.5" rule; faint items must still fill the range.
    mask = np.asarray(shirt_mask().resize((90, 90)), dtype=np.float32) / 255
    gray = np.full((120, 150), background, np.float32)
    gray[10:100, 30:120] = background + mask * (item - background)
    out = prepare_array(gray, "shirt")
    assert out.max() == 255
    assert corr(out, prepare_image(encode(shirt_mask()))) > 0.95


@pytest.mark.skipif(not DATASET.exists(), reason="Fashion-MNIST test set not installed")
def test_real_dataset_images_round_trip():
    count = 500
    with gzip.open(DATASET) as fh:
        images = np.frombuffer(fh.read(16 + count * 784), np.uint8, offset=16).reshape(count, 28, 28)
    scores = np.array([corr(prepare_image(encode(Image.fromarray(im))), im) for im in images])
    assert scores[:50].mean() > 0.9
    assert np.median(scores) > 0.97  # most come back pixel for pixel
    assert scores.min() > 0.2  # thin items may shift by a pixel, but none may come back inverted


# --- model_input ------------------------------------------------------------------------------------


def test_model_input():
    torch = pytest.importorskip("torch")
    img = np.zeros((28, 28), np.uint8)
    img[0, 0], img[27, 27] = 255, 51
    x = model_input(img)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (784,)
    assert x[0].item() == pytest.approx(1.0) and x[1].item() == pytest.approx(-1.0)
    assert x[-1].item() == pytest.approx(51 / 255 * 2 - 1)
    assert model_input(np.stack([img] * 3)).shape == (3, 784)
    with pytest.raises(ValueError):
        model_input(np.zeros((28, 27), np.uint8))


def test_model_input_of_a_read_only_array_without_a_warning():
    # A decoded upload or a memory-mapped file is read-only; torch.from_numpy warns on those.
    pytest.importorskip("torch")
    img = np.full((28, 28), 51, np.uint8)
    img.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = model_input(img)
    assert x[0].item() == pytest.approx(51 / 255 * 2 - 1) and img[0, 0] == 51
