"""GPUs and custom resources on the local runtime: what Ray leaves open and
fastray decides (README's differences table), how GPUs are found, and bad
input.  No GPU is needed: GPUs are declared, or found through a fake
nvidia-smi or CUDA_VISIBLE_DEVICES; on a machine with real GPUs, the tests
of finding none hide its NVML from the driver."""
from __future__ import annotations

import json
import os
import stat
import time
import urllib.request

import pytest

import fastray
from fastray import gpus as gpu_finding
from fastray.util import placement_group

from gpu_functions import (GpuHolder, RestartingGpuHolder, crashes_on_a_gpu, logged, most_at_once,
                           runs, submits_a_gpu_child, what_cuda_sees)

pytestmark = pytest.mark.timeout(120)

SMI_LISTING = ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0a1b)\n"
               "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2c3d)\n")


@pytest.fixture
def no_visible_devices(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.fixture
def no_nvml(monkeypatch):
    """The driver finds no NVML, as on a machine without NVIDIA's driver."""
    monkeypatch.setattr(gpu_finding, "_nvml_names", lambda: None)


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    """An nvidia-smi first on PATH that lists two H100s."""
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(f"#!/bin/sh\n[ \"$1\" = -L ] || exit 2\nprintf '{SMI_LISTING}'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{smi.parent}{os.pathsep}{os.environ['PATH']}")
    return smi


@pytest.fixture
def runtime():
    yield fastray
    fastray.shutdown()


def test_shares_of_a_gpu_pack_onto_the_first_device(runtime, no_visible_devices, tmp_path):
    runtime.init(num_cpus=4, num_gpus=2)
    quarters = runtime.get([what_cuda_sees.options(num_gpus=0.25).remote() for _ in range(4)],
                           timeout=60)
    assert [seen["devices"] for seen in quarters] == ["0"] * 4
    log = str(tmp_path / "log")
    runtime.get([logged.options(num_gpus=0.5).remote(log) for _ in range(4)], timeout=60)
    records = runs(log)
    for device in ("0", "1"):
        assert most_at_once([r for r in records if r["devices"] == device]) <= 2


def test_a_worker_serves_one_set_of_devices_for_its_life(runtime, no_visible_devices):
    runtime.init(num_cpus=2, num_gpus=1)
    gpu_runs = runtime.get([what_cuda_sees.options(num_gpus=1).remote() for _ in range(3)],
                           timeout=60)
    cpu_runs = runtime.get([what_cuda_sees.remote() for _ in range(6)], timeout=60)
    assert {seen["devices"] for seen in gpu_runs} == {"0"}
    assert {seen["devices"] for seen in cpu_runs} == {None}
    assert not {s["pid"] for s in gpu_runs} & {s["pid"] for s in cpu_runs}


def test_visible_devices_are_found_and_uuids_stay_strings(runtime, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aaaa,GPU-bbbb")
    context = runtime.init(num_cpus=2)
    assert context.resources["GPU"] == 2
    seen = runtime.get(what_cuda_sees.options(num_gpus=1).remote(), timeout=60)
    assert seen["devices"] == "GPU-aaaa"
    assert seen["gpu_ids"] == ["GPU-aaaa"]
    assert seen["accelerators"] == ["GPU-aaaa"]
    # A CPU task sees what the driver had, as in Ray 2.60.
    assert runtime.get(what_cuda_sees.remote(), timeout=60)["devices"] == "GPU-aaaa,GPU-bbbb"


def test_ray_s_switch_hides_every_device_from_cpu_tasks(runtime, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "1")
    runtime.init(num_cpus=2)
    assert runtime.get(what_cuda_sees.remote(), timeout=60)["devices"] == ""
    assert runtime.get(what_cuda_sees.options(num_gpus=1).remote(), timeout=60)["devices"] == "0"


def test_init_num_gpus_takes_the_first_visible_devices(runtime, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,7")
    runtime.init(num_cpus=2, num_gpus=2)
    assert runtime.cluster_resources()["GPU"] == 2
    seen = runtime.get(what_cuda_sees.options(num_gpus=2).remote(), timeout=60)
    assert seen["devices"] == "3,5"
    assert seen["gpu_ids"] == [3, 5]


def test_a_fake_nvidia_smi_is_found_with_its_model(runtime, fake_smi, no_visible_devices,
                                                   no_nvml):
    assert gpu_finding.find_gpus() == gpu_finding.FoundGpus(["0", "1"], "H100")
    runtime.init(num_cpus=2)
    resources = runtime.cluster_resources()
    assert resources["GPU"] == 2
    assert resources["accelerator_type:H100"] == 1
    seen = runtime.get(what_cuda_sees.options(accelerator_type="H100", num_gpus=1).remote(),
                       timeout=60)
    assert seen["devices"] in ("0", "1")


def test_the_visible_devices_variable_wins_over_nvidia_smi(fake_smi, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert gpu_finding.find_gpus().ids == ["1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu_finding.find_gpus() == gpu_finding.FoundGpus([], None)


def test_gpu_model_names_as_ray_names_them():
    assert gpu_finding.model_of("NVIDIA H100 80GB HBM3") == "H100"
    assert gpu_finding.model_of("Tesla V100-SXM2-16GB") == "V100"
    assert gpu_finding.model_of("NVIDIA A100-SXM4-40GB") == "A100"


def test_without_gpus_none_are_listed(runtime, no_visible_devices, no_nvml, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    runtime.init(num_cpus=2)
    assert "GPU" not in runtime.cluster_resources()


def test_declaring_is_not_asking(runtime, no_visible_devices):
    runtime.init(num_cpus=2, num_gpus=0)

    @runtime.remote(num_gpus=1, resources={"tpu_pod": 1}, memory=10**15)
    def never_called() -> None: ...

    with pytest.raises(ValueError, match="num_gpus=1 .* 0 GPU"):
        never_called.remote()
    with pytest.raises(ValueError, match="'tpu_pod'"):
        never_called.options(num_gpus=0, memory=0).remote()
    with pytest.raises(ValueError, match="'memory'"):
        never_called.options(num_gpus=0, resources={}).remote()


def test_bad_requests_fail_where_they_are_made(runtime):
    runtime.init(num_cpus=2, num_gpus=2, resources={"slot": 1})
    with pytest.raises(ValueError, match="whole number"):
        what_cuda_sees.options(num_gpus=1.5)
    with pytest.raises(ValueError, match=">= 0"):
        what_cuda_sees.options(num_gpus=-1)
    with pytest.raises(ValueError, match="num_cpus/num_gpus"):
        what_cuda_sees.options(resources={"GPU": 1})
    with pytest.raises(TypeError, match="dict"):
        what_cuda_sees.options(resources=["slot"])
    with pytest.raises(TypeError, match="accelerator_type"):
        what_cuda_sees.options(accelerator_type=100)
    with pytest.raises(ValueError, match="num_gpus=3"):
        what_cuda_sees.options(num_gpus=3).remote()
    with pytest.raises(ValueError, match="2 of the resource 'slot'"):
        what_cuda_sees.options(resources={"slot": 2}).remote()
    with pytest.raises(ValueError, match="accelerator_type:A100"):
        what_cuda_sees.options(accelerator_type="A100").remote()
    # A group that asks for more than the machine has is never ready, as in Ray.
    with pytest.warns(RuntimeWarning, match="3 GPU"):
        group = placement_group([{"GPU": 3}])
    assert not group.wait(0.2)
    # The runtime is unharmed.
    assert runtime.get(what_cuda_sees.options(num_gpus=2).remote(), timeout=60)["devices"] == "0,1"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_gpus": -1}, ValueError, "num_gpus"),
    ({"num_gpus": 1.5}, ValueError, "num_gpus"),
    ({"resources": "slot"}, TypeError, "resources"),
    ({"resources": {"slot": -1}}, ValueError, "slot"),
    ({"resources": {"GPU": 1}}, ValueError, "num_gpus"),
])
def test_bad_declarations_fail_init(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastray.init(num_cpus=1, **kwargs)
    assert not fastray.is_initialized()


def test_the_dashboard_shows_each_worker_s_gpus(runtime, no_visible_devices):
    context = runtime.init(num_cpus=2, num_gpus=2, include_dashboard=True)
    holder = GpuHolder.remote()
    assert runtime.get(holder.devices.remote(), timeout=60)["devices"] == "0"
    runtime.get(what_cuda_sees.options(num_gpus=1).remote(), timeout=60)
    url = "http://" + context.dashboard_url.replace("/?", "/api/state?", 1)
    with urllib.request.urlopen(url, timeout=30) as response:
        state = json.load(response)
    assert state["resources"]["GPU"] == {"total": 2.0, "used": 1.0}
    assert state["resources"]["CPU"]["total"] == 2.0
    assert ["1"] in [worker["gpus"] for worker in state["workers"]]
    assert [actor["gpus"] for actor in state["actors"]] == [["0"]]


def gpus_free_within(amount: float, seconds: float = 30) -> bool:
    """Whether amount GPUs are free within seconds: an ended actor's go back
    once its process is gone, as its CPUs do."""
    deadline = time.monotonic() + seconds
    while fastray.available_resources().get("GPU", 0) != amount:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_what_a_task_held_comes_back_however_it_ends(runtime, no_visible_devices):
    runtime.init(num_cpus=2, num_gpus=1)
    with pytest.raises(fastray.exceptions.WorkerCrashedError):
        runtime.get(crashes_on_a_gpu.remote(), timeout=60)
    # A task waiting for the GPU is cancelled: it never held it.
    holder = GpuHolder.remote()
    runtime.get(holder.devices.remote(), timeout=60)
    waiting = what_cuda_sees.options(num_gpus=1).remote()
    runtime.cancel(waiting)
    with pytest.raises(fastray.exceptions.TaskCancelledError):
        runtime.get(waiting, timeout=60)
    runtime.kill(holder)
    assert gpus_free_within(1)
    # A child asks from inside a task (the worker registers the request).
    assert runtime.get(submits_a_gpu_child.remote(), timeout=60)["devices"] == "0"
    assert runtime.available_resources()["GPU"] == 1


def test_a_restarted_actor_keeps_its_device(runtime, no_visible_devices):
    runtime.init(num_cpus=2, num_gpus=2)
    first = GpuHolder.remote()
    runtime.get(first.devices.remote(), timeout=60)
    actor = RestartingGpuHolder.remote()
    device, pid = runtime.get(actor.devices.remote(), timeout=60)
    assert device == "1"
    runtime.kill(actor, no_restart=False)
    again, new_pid = runtime.get(actor.devices.remote(), timeout=60)
    assert (again, new_pid != pid) == ("1", True)
    runtime.kill(actor)
    runtime.kill(first)
    assert gpus_free_within(2)


def test_removing_a_group_gives_its_gpus_back(runtime, no_visible_devices):
    runtime.init(num_cpus=2, num_gpus=2, resources={"slot": 1})
    group = placement_group([{"GPU": 0.5, "slot": 1}, {"GPU": 1}], strategy="PACK")
    assert group.wait(60)
    assert runtime.available_resources().get("GPU") == 0.5
    assert "slot" not in runtime.available_resources()
    fastray.util.remove_placement_group(group)
    assert runtime.available_resources()["GPU"] == 2
    assert runtime.available_resources()["slot"] == 1
