"""What a worker (fmnist.runs.worker) answers while it waits for a run: the inference the app's pages ask for, so the
server itself never imports torch to show them (fmnist.runs.inference is the server's side).

    server -> worker   {"op": "infer", "id": n, "task": t, "path": checkpoint file, ...}
                       t = "predictions" (the test set), "probabilities", "saliency" or "feature_maps" (with
                       "image": uint8 (28, 28), and "target" for saliency), or "robustness" (the test set's accuracy
                       in percent under one item of the shift and rotation test: "kind" "shift" or "rotation", and
                       "amount" in pixels or degrees)
    worker -> server   {"kind": "inferred", "id": n, "result": ...}, or {"kind": "inferred", "id": n, "error": why,
                       "checkpoint": True when the file could not be used}

Results are plain data and NumPy arrays. The models asked about last stay loaded, so the clicks of a page that
explains one image after another do not read the file again each time; a run forgets them (forget()).
"""

from __future__ import annotations

from pathlib import Path

KEEP_MODELS = 2
_models: dict[tuple[str, float], object] = {}  # (path, mtime) -> model in eval mode, oldest first


def forget() -> None:
    """Drops the loaded models: the worker is about to train, and they are not its run's."""
    _models.clear()


def _model(path: str):
    from fmnist.store import checkpoints

    key = (path, Path(path).stat().st_mtime)  # a file saved again is loaded again
    model = _models.pop(key, None)
    if model is None:
        model = checkpoints.load(Path(path)).model().eval()
    _models[key] = model
    while len(_models) > KEEP_MODELS:
        del _models[next(iter(_models))]
    return model


def _predictions(model) -> dict:
    from fmnist.data.dataset import device_tensors
    from fmnist.inspect.evaluate import evaluate

    _, _, x, y = device_tensors(None, "cpu")  # the shared normalised test set the worker mapped at its start
    ev = evaluate(model, x, y)
    return {"accuracy": ev.accuracy, "loss": ev.loss, "confusion": ev.confusion, "predictions": ev.predictions,
            "probabilities": ev.probabilities}


def _robustness(model, kind: str, amount: float) -> float:
    """One item of the shift and rotation test, as fmnist.inspect.robustness measures it: the Evaluate page asks for
    them one at a time (ui/inspect/robustness_jobs.py), so a page's other requests wait for one item, not a model."""
    from fmnist.data.dataset import device_tensors
    from fmnist.inspect.robustness import measure

    if kind not in ("shift", "rotation"):
        raise ValueError(f"unknown robustness measurement {kind!r}")
    _, _, x, y = device_tensors(None, "cpu")
    shifts, rotations = ([int(amount)], []) if kind == "shift" else ([], [float(amount)])
    return measure(model, x, y, shifts, rotations)[0].accuracy


def compute(request: dict):
    """The result of one request (raises what loading or computing raises)."""
    import numpy as np
    import torch

    from fmnist.data.images import model_input

    # One thread, as the server's own inference had: on a busy machine a second OpenMP thread waiting at a barrier for
    # a core made a saliency map 10 times slower (250 ms instead of 19 for the best preset's model at load 6); a run
    # that takes this worker sets its own.
    torch.set_num_threads(1)
    model = _model(request["path"])
    task = request["task"]
    if task == "predictions":
        return _predictions(model)
    if task == "robustness":
        return _robustness(model, request["kind"], request["amount"])
    image = np.asarray(request["image"], dtype=np.uint8)
    if task == "probabilities":
        from fmnist.inspect.predict import probabilities

        return probabilities(model, image)
    if task == "saliency":
        from fmnist.inspect.explain import saliency

        return saliency(model, model_input(image), request.get("target"))
    if task == "feature_maps":
        from fmnist.inspect.predict import image_feature_maps

        return image_feature_maps(model, image)
    raise ValueError(f"unknown inference task {task!r}")


def answer(request: dict) -> dict:
    """The reply to one request: its result, or why there is none. Nothing raised here ends the worker."""
    from fmnist.store.checkpoints import CheckpointError

    reply = {"kind": "inferred", "id": request.get("id")}
    try:
        reply["result"] = compute(request)
    except (CheckpointError, OSError) as exc:  # a file deleted or damaged since it was listed
        reply.update(error=str(exc), checkpoint=True)
    except Exception as exc:  # noqa: BLE001 - said on the page, and the worker goes on waiting
        reply.update(error=f"{type(exc).__name__}: {exc}", checkpoint=False)
    return reply
