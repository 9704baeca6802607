"""GPUs and custom resources: what the machine has (``init(num_gpus=...,
resources=...)``, or found), what a task or actor asks for (``num_gpus``,
``resources``, ``memory``, ``accelerator_type``), and that request
encoded for the scheduler, which does the counting
(csrc/scheduler/resources.pxi)."""
from __future__ import annotations

import os
import struct
from typing import Any, NamedTuple


# Amounts travel in these parts of one, as the scheduler counts them
# (RESOURCE_UNIT in csrc/sched_state.hpp): Ray's four decimals.
UNIT = 10000
# The node's own resources, which every task may name without their being
# counted: it runs on this node.
NODE_RESOURCES = ("node:127.0.0.1", "node:__internal_head__")
# How workers learn what the driver declared.
ENVIRONMENT_VARIABLE = "FASTRAY_RESOURCES"
# The options Asked takes.
ASKED_OPTIONS = ("num_gpus", "resources", "memory", "accelerator_type")
# Ray's share of an accelerator_type a task asks for (any device of the type).
ACCELERATOR_SHARE = 0.001
# The node's "memory" resource: Ray's share of the machine's memory, less the store.
MEMORY_SHARE = 0.7

_HEAD = struct.Struct("<qI")
_ITEM = struct.Struct("<Iq")


class NodeResources(NamedTuple):
    """What the runtime schedules besides CPUs: GPUs by id, as CUDA names
    them, and custom resources by name (memory and accelerator_type too)."""

    gpu_ids: tuple[str, ...]
    custom: dict[str, float]

    @property
    def custom_names(self) -> list[str]:
        """The custom resources in the scheduler's index order."""
        return sorted(self.custom)

    def totals(self) -> dict[str, float]:
        totals = dict(self.custom)
        if self.gpu_ids:
            totals["GPU"] = float(len(self.gpu_ids))
        return totals

    def to_environment(self) -> str:
        """As workers read it (resource names hold no control characters)."""
        custom = _FIELD.join(f"{name}{_PAIR}{amount!r}" for name, amount in self.custom.items())
        return _FIELD.join(self.gpu_ids) + _PART + custom

    @classmethod
    def from_environment(cls) -> NodeResources:
        ids, _, custom = os.environ.get(ENVIRONMENT_VARIABLE, _PART).partition(_PART)
        pairs = (item.partition(_PAIR) for item in custom.split(_FIELD) if item)
        return cls(tuple(ids.split(_FIELD)) if ids else (),
                   {name: float(amount) for name, _, amount in pairs})


# The separators of FASTRAY_RESOURCES (ASCII's own; never in a resource's name).
_PART, _PAIR, _FIELD = "\x1d", "\x1e", "\x1f"


def declared(num_gpus: Any, resources: Any, store_bytes: int, machine_bytes: int
             ) -> NodeResources:
    """The node's resources from init's num_gpus and resources; GPUs are
    found (fastray/gpus.py) when num_gpus is not given."""
    if resources is not None and not isinstance(resources, dict):
        raise TypeError(f"resources must be a dict of name -> amount, got "
                        f"{type(resources).__name__}")
    from .gpus import find_gpus  # the driver's, once: workers never load it
    custom: dict[str, float] = {}
    for name, amount in (resources or {}).items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"resource names must be non-empty str, got {name!r}")
        if not name.isprintable():
            raise ValueError(f"resource names must be printable, got {name!r}")
        if name in ("CPU", "GPU"):
            raise ValueError(f'use init(num_cpus=...)/init(num_gpus=...), not '
                             f'resources={{"{name}": ...}}')
        custom[name] = _amount(f"resources[{name!r}]", amount)
    found = find_gpus()
    if num_gpus is None:
        ids = found.ids
    else:
        if not isinstance(num_gpus, int) or isinstance(num_gpus, bool) or num_gpus < 0:
            raise ValueError(f"num_gpus must be an int >= 0, got {num_gpus!r}")
        # As Ray: the first num_gpus of the visible devices, else 0..num_gpus-1.
        ids = found.ids[:num_gpus] if len(found.ids) >= num_gpus else [
            str(i) for i in range(num_gpus)]
    if found.model and ids:
        custom.setdefault(f"accelerator_type:{found.model}", 1.0)
    custom.setdefault("memory", float(max(int(machine_bytes * MEMORY_SHARE) - store_bytes, 0)))
    custom.setdefault("object_store_memory", float(store_bytes))
    return NodeResources(tuple(ids), custom)


def _amount(key: str, amount: Any) -> float:
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount < 0:
        raise ValueError(f"{key} must be a number >= 0, got {amount!r}")
    if amount > 1 and amount != int(amount):
        raise ValueError(f"{key} must be a whole number when above 1 (as in Ray), got "
                         f"{amount!r}")
    return float(amount)


class Asked(NamedTuple):
    """What a task or actor asks for besides CPUs, as given (checked when
    set; whether the machine has it is checked at .remote(): declaring is
    not asking)."""

    num_gpus: float = 0.0
    resources: tuple[tuple[str, float], ...] = ()
    memory: float = 0.0
    accelerator_type: str | None = None

    def updated(self, options: dict[str, Any]) -> Asked:
        num_gpus, resources = self.num_gpus, self.resources
        memory, accelerator_type = self.memory, self.accelerator_type
        if options.get("num_gpus") is not None:
            num_gpus = _amount("num_gpus", options["num_gpus"])
        if "resources" in options:
            resources = _checked_resources(options["resources"])
        if options.get("memory") is not None:
            memory = options["memory"]
            if not isinstance(memory, (int, float)) or isinstance(memory, bool) or memory < 0:
                raise ValueError(f"memory must be a number of bytes >= 0, got {memory!r}")
        if "accelerator_type" in options:
            accelerator_type = options["accelerator_type"]
            if accelerator_type is not None and not isinstance(accelerator_type, str):
                raise TypeError(f"accelerator_type must be a str such as 'H100', got "
                                f"{accelerator_type!r}")
        return Asked(num_gpus, resources, float(memory), accelerator_type or None)

    def __bool__(self) -> bool:
        return bool(self.num_gpus or self.resources or self.memory or self.accelerator_type)

    @property
    def custom(self) -> dict[str, float]:
        """The custom resources asked for, memory and accelerator_type included."""
        custom = dict(self.resources)
        if self.memory:
            custom["memory"] = self.memory
        if self.accelerator_type:
            custom[f"accelerator_type:{self.accelerator_type}"] = ACCELERATOR_SHARE
        return custom

    def other_node(self) -> str:
        """The resource of another node asked for, if any: like a hard
        affinity to that node, it can never run here (TaskUnschedulableError)."""
        return next((name for name, _ in self.resources if name.startswith("node:")), "")

    def ray_options(self) -> dict[str, Any]:
        """The options as Ray takes them, for the Ray backend."""
        options: dict[str, Any] = {}
        if self.num_gpus:
            options["num_gpus"] = self.num_gpus
        if self.resources:
            options["resources"] = dict(self.resources)
        if self.memory:
            options["memory"] = self.memory
        if self.accelerator_type:
            options["accelerator_type"] = self.accelerator_type
        return options


def _checked_resources(resources: Any) -> tuple[tuple[str, float], ...]:
    if not resources:
        return ()
    if not isinstance(resources, dict):
        raise TypeError(f"resources must be a dict, got {type(resources).__name__}")
    checked = []
    for name, amount in resources.items():
        if not isinstance(name, str):
            raise TypeError(f"resource names must be str, got {name!r}")
        if name in ("CPU", "GPU"):
            raise ValueError(f'use num_cpus/num_gpus, not resources={{"{name}": ...}}')
        if name in NODE_RESOURCES:
            if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not (
                    0 <= amount <= 1):
                raise ValueError(f"resource {name!r} takes an amount from 0 to 1, got "
                                 f"{amount!r}")
            continue
        amount = _amount(f"resource {name!r}", amount)
        if amount:
            checked.append((name, amount))
    return tuple(sorted(checked))


def demand_key(node: NodeResources, asked: Asked, what: str) -> bytes:
    """asked as the scheduler's FR_DEMAND_ADD body, or b"" if it asks for
    nothing the scheduler counts; ValueError if this machine could never
    give it (as for CPUs)."""
    gpus = asked.num_gpus
    if gpus > len(node.gpu_ids):
        raise ValueError(f"{what} asks for num_gpus={gpus:g} and the runtime has "
                         f"{len(node.gpu_ids)} GPU(s): it could never run (init(num_gpus=N) "
                         "declares them)")
    names = node.custom_names
    items = []
    for name, amount in sorted(asked.custom.items()):
        if name.startswith("node:"):
            continue
        total = node.custom.get(name)
        if total is None or amount > total:
            raise ValueError(f"{what} asks for {amount:g} of the resource {name!r}, and the "
                             f"runtime has {total or 0:g}: it could never run "
                             f"(init(resources={{...}}) declares custom resources)")
        items.append(_ITEM.pack(names.index(name), round(amount * UNIT)))
    if not gpus and not items:
        return b""
    return _HEAD.pack(round(gpus * UNIT), len(items)) + b"".join(items)
