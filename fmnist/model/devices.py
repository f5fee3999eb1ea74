"""Which device a run uses, and what devices this machine offers, as plain data. Workers (which import torch) measure
it with `available()`; the app's server, which does not import torch, checks a chosen device against that report
with `problem()`. torch is imported inside the functions that need it."""

from __future__ import annotations

from fmnist.messages import N_

CUDA_MISSING = N_("CUDA was asked for, but PyTorch sees no CUDA GPU here: choose cpu or auto")
MPS_MISSING = N_("MPS was asked for, but this machine has no Apple GPU: choose cpu or auto")


def available() -> dict:
    """{"auto": what device=auto picks, as a label, "cuda": bool, "mps": bool}."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    return {"auto": device_label(resolve_device("auto")), "cuda": torch.cuda.is_available(),
            "mps": bool(mps and mps.is_available())}


def problem(name: str, report: dict | None) -> str | None:
    """Why `name` cannot be used on a machine described by `report` (from `available()`); None when it can, or when
    there is no report yet (the run itself then says so)."""
    if report is None:
        return None
    if name == "cuda" and not report["cuda"]:
        return CUDA_MISSING
    if name == "mps" and not report["mps"]:
        return MPS_MISSING
    return None


class DeviceError(ValueError):
    pass


def resolve_device(name: str):
    """The torch.device for a config's device setting; DeviceError when the asked-for one is missing."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError(CUDA_MISSING)
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError(MPS_MISSING)
    return torch.device(name)


def device_label(device) -> str:
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type
