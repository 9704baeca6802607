"""Finding the machine's NVIDIA GPUs when ``init`` does not say how many:
CUDA_VISIBLE_DEVICES when set, else NVML (libnvidia-ml.so.1, through
ctypes: no new dependency), else ``nvidia-smi -L``, else none.  Each way
also gives the model, from which Ray names the node's
``accelerator_type:<model>`` resource."""
from __future__ import annotations

import os
import re
from typing import NamedTuple

VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
# Where a loaded NVIDIA kernel driver shows itself (in containers too).
NVIDIA_DRIVER = "/proc/driver/nvidia"
# "NVIDIA H100 80GB HBM3" -> "H100", "Tesla V100-SXM2-16GB" -> "V100" (Ray's rule).
_MODEL = r"^\S+\s+([A-Z0-9]+)"
_SMI_LINE = r"^GPU\s+\d+:\s*(.*?)\s*(\(UUID:.*)?$"


class FoundGpus(NamedTuple):
    ids: list[str]           # as CUDA_VISIBLE_DEVICES names them
    model: str | None        # e.g. "H100"; None if unknown


def visible_ids(value: str | None) -> list[str] | None:
    """The device ids CUDA_VISIBLE_DEVICES lists, or None if it is unset.
    Empty, or Ray's "NoDevFiles", means none."""
    if value is None:
        return None
    value = value.strip()
    if value in ("", "NoDevFiles"):
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def find_gpus() -> FoundGpus:
    """The GPUs this process may use, by the first way that answers."""
    names = _nvml_names()
    if names is None:
        names = _smi_names()
    model = model_of(names[0]) if names else None
    ids = visible_ids(os.environ.get(VISIBLE_DEVICES))
    if ids is not None:
        return FoundGpus(ids, model if ids else None)
    return FoundGpus([str(i) for i in range(len(names or []))], model)


def model_of(name: str) -> str | None:
    match = re.match(_MODEL, name.strip())
    return match.group(1) if match else None


def _nvml_names() -> list[str] | None:
    """The devices' names through NVML; None if the library is missing or
    fails, or no NVIDIA driver is loaded (then ctypes is not even imported)."""
    if not os.path.exists(NVIDIA_DRIVER):
        return None
    import ctypes
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return None
    try:
        if nvml.nvmlInit_v2() != 0:
            return None
    except AttributeError:
        return None
    try:
        count = ctypes.c_uint(0)
        if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return None
        names = []
        for index in range(count.value):
            device = ctypes.c_void_p()
            name = ctypes.create_string_buffer(96)
            if (nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(device)) != 0
                    or nvml.nvmlDeviceGetName(device, name, len(name)) != 0):
                return None
            names.append(name.value.decode(errors="replace"))
        return names
    except AttributeError:
        return None
    finally:
        nvml.nvmlShutdown()


def _smi_names() -> list[str] | None:
    """The devices' names from ``nvidia-smi -L``; None if it is missing or fails."""
    import shutil
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    import subprocess
    try:
        listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10,
                                 check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = []
    for line in listing.splitlines():
        match = re.match(_SMI_LINE, line.strip())
        if match:
            names.append(match.group(1))
    return names
