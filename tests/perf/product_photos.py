"""How well uploads are read: the shipped default model on the product-like photos of tests/fixtures/product_photos
(made by tests/fixtures/make_product_photos.py), with and without the background removal of
fmnist/data/background.py.

    PYTHONPATH=. .venv/bin/python tests/perf/product_photos.py [--checkpoint checkpoints/default.safetensors]

Prints one line per photo (its class, and what each way reads it as) and the two accuracies.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fmnist.data.dataset import CLASSES
from fmnist.data.images import prepare_image
from fmnist.inspect.predict import probabilities
from fmnist.store import checkpoints

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT / "tests" / "fixtures" / "product_photos"


def true_class(path: Path) -> int:
    return int(path.stem.split("-")[1])  # 01234-<class>-<name>.jpg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints" / "default.safetensors")
    args = parser.parse_args()
    model = checkpoints.load(args.checkpoint).model()
    right = {True: 0, False: 0}
    seconds = {True: 0.0, False: 0.0}
    paths = sorted(PHOTOS.glob("*.jpg"))
    for path in paths:
        data, truth = path.read_bytes(), true_class(path)
        read = {}
        for removed in (False, True):
            start = time.perf_counter()
            img = prepare_image(data, path.name, remove_background=removed)
            seconds[removed] += time.perf_counter() - start
            read[removed] = int(probabilities(model, img).argmax())
            right[removed] += read[removed] == truth
        print(f"{path.name:32} {CLASSES[truth]:12} kept: {CLASSES[read[False]]:12} removed: {CLASSES[read[True]]}")
    for removed, label in ((False, "background kept"), (True, "background removed")):
        print(f"{label:19} {right[removed]:2}/{len(paths)} = {right[removed] / len(paths):.0%} "
              f"({1000 * seconds[removed] / len(paths):.0f} ms a photo to prepare)")


if __name__ == "__main__":
    main()
