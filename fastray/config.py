"""The runtime's sizes from ``init``'s arguments, with clear errors.

The object store:
Defaults: the store may hold 30% of the machine's memory (Ray's default
share).  Its memory is a memfd rather than a file in /dev/shm, so the size
of the /dev/shm mount (64 MiB in a default Docker container) does not bound
it.  Freed pages in the first GiB stay faulted in for the next writer;
freed pages beyond that go back to the OS.  A write that finds the store
full waits up to 10 s for memory (after spilling what it can to disk)
before raising ObjectStoreFullError.

The timeline keeps the last 100,000 ended tasks (about 5 MB), recorded at a
cost too small to measure; ``_system_config={"task_events_max": 0}`` turns
recording off.
"""
from __future__ import annotations

import logging
import os
from typing import Any, NamedTuple

logger = logging.getLogger("fastray")

MIN_STORE_BYTES = 8 * 1024 * 1024
DEFAULT_STORE_FRACTION = 0.3
DEFAULT_WARM_BYTES = 1 << 30
DEFAULT_FULL_TIMEOUT_S = 10.0
PAGE = 4096

DEFAULT_TASK_EVENTS = 100_000

# The _system_config keys that mean something here; Ray's other internal
# knobs are accepted and ignored.
WARM_KEY = "object_store_warm_bytes"
FULL_TIMEOUT_KEY = "object_store_full_timeout_s"
EVENTS_KEY = "task_events_max"


class StoreConfig(NamedTuple):
    capacity: int          # bytes of shared memory for blobs
    warm_limit: int        # freed pages below this offset stay faulted in
    full_timeout: float    # seconds an allocation waits for room when full


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class RuntimeConfig(NamedTuple):
    store: StoreConfig
    max_task_events: int   # ended tasks the timeline keeps


def runtime_config(object_store_memory: Any, system_config: Any) -> RuntimeConfig:
    """Validates init's sizing options and fills in the defaults."""
    capacity = _capacity(object_store_memory)
    if system_config is None:
        system_config = {}
    if not isinstance(system_config, dict):
        raise TypeError(f"_system_config must be a dict, got {type(system_config).__name__}")
    for key in sorted(set(system_config) - {WARM_KEY, FULL_TIMEOUT_KEY, EVENTS_KEY}):
        logger.info("_system_config[%r] has no meaning for the local runtime; ignored", key)
    warm = _count(system_config, WARM_KEY, DEFAULT_WARM_BYTES, "an int >= 0 (bytes)")
    events = _count(system_config, EVENTS_KEY, DEFAULT_TASK_EVENTS, "an int >= 0")
    if events > 2**31:
        raise ValueError(f"_system_config[{EVENTS_KEY!r}] must be at most 2**31, got {events}")
    timeout = system_config.get(FULL_TIMEOUT_KEY, DEFAULT_FULL_TIMEOUT_S)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout < 0:
        raise ValueError(f"_system_config[{FULL_TIMEOUT_KEY!r}] must be a number of seconds "
                         f">= 0, got {timeout!r}")
    return RuntimeConfig(StoreConfig(capacity, min(warm, capacity), float(timeout)), events)


def _count(system_config: dict, key: str, default: int, what: str) -> int:
    value = system_config.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"_system_config[{key!r}] must be {what}, got {value!r}")
    return value


def _capacity(size: Any) -> int:
    total = machine_memory()
    if size is None:
        return int(total * DEFAULT_STORE_FRACTION) // PAGE * PAGE
    if not isinstance(size, int) or isinstance(size, bool):
        raise TypeError(f"object_store_memory must be an int (bytes), got {type(size).__name__}")
    if size < MIN_STORE_BYTES:
        raise ValueError(f"object_store_memory must be at least {MIN_STORE_BYTES} bytes "
                         f"(8 MiB), got {size}")
    if size > total:
        raise ValueError(f"object_store_memory={size} is more than this machine's memory "
                         f"({total} bytes); the store would be killed before it filled up")
    return -(-size // PAGE) * PAGE
