"""A torch CPU tensor passed to a task travels zero-copy through the store,
as a numpy array does (Ray copies it unless asked).  Where torch is
installed the real one is used; elsewhere a stand-in module named torch,
with the few members the reducer reads, checks the same path."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import fastray
from fastray import pickler

pytestmark = pytest.mark.timeout(120)

HAS_TORCH = importlib.util.find_spec("torch") is not None

STAND_IN = '''
"""A stand-in for torch: a Tensor over a numpy array."""
import numpy

strided = "strided"
float32 = numpy.float32


class _Device:
    type = "cpu"


class Tensor:
    device = _Device()
    layout = strided
    requires_grad = False

    def __init__(self, array):
        self.array = array
        self.dtype = array.dtype

    def detach(self):
        return self

    def numpy(self):
        return self.array

    def __reduce_ex__(self, protocol):
        return Tensor, (self.array.copy(),)


def from_numpy(array):
    return Tensor(array)


def ones(n):
    return Tensor(numpy.ones(n, dtype=numpy.float32))
'''


@pytest.fixture
def torch(tmp_path, monkeypatch):
    """The real torch, or the stand-in importable in the driver and workers."""
    if not HAS_TORCH:
        (tmp_path / "torch").mkdir()
        (tmp_path / "torch" / "__init__.py").write_text(STAND_IN)
        monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("torch")
    yield module
    pickler._OWN_REDUCERS.pop(module.Tensor, None)
    if not HAS_TORCH:
        sys.modules.pop("torch", None)


@fastray.remote
def inspect(tensor):
    array = tensor.numpy()
    # torch has no read-only tensors: only the stand-in's array can say so.
    return type(tensor).__name__, HAS_TORCH or not array.flags.writeable, float(array.sum())


@fastray.remote
def shares_memory(refs):
    first, second = fastray.get(refs[0]), fastray.get(refs[0])
    return bool(np.shares_memory(first.numpy(), second.numpy()))


def test_a_cpu_tensor_arrives_read_only_without_a_copy(torch):
    fastray.init(num_cpus=2)
    try:
        tensor = torch.ones(4_000_000)
        name, read_only, total = fastray.get(inspect.remote(tensor), timeout=60)
        assert (name, read_only, total) == ("Tensor", True, 4_000_000.0)
        ref = fastray.put(tensor)
        assert fastray.get(shares_memory.remote([ref]), timeout=60)
        back = fastray.get(ref)
        assert type(back) is torch.Tensor
        assert np.shares_memory(back.numpy(), fastray.get(ref).numpy())
    finally:
        fastray.shutdown()


def test_fastray_never_imports_torch_itself():
    program = ("import sys, numpy, fastray; from fastray import pickler; "
               "pickler.dumps(numpy.ones(3), lambda buffer: None); "
               "fastray.init(num_cpus=1); fastray.get(fastray.put(numpy.ones(3))); "
               "fastray.shutdown(); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"
