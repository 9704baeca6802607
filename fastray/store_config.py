"""Sizing the object store from ``init``'s arguments, with clear errors.

Defaults: the store may hold 30% of the machine's memory (Ray's default
share).  Its memory is a memfd rather than a file in /dev/shm, so the size
of the /dev/shm mount (64 MiB in a default Docker container) does not bound
it.  Freed pages in the first GiB stay faulted in for the next writer;
freed pages beyond that go back to the OS.  A write that finds the store
full waits up to 10 s for memory (after spilling what it can to disk)
before raising ObjectStoreFullError.
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

# The _system_config keys that mean something here; Ray's other internal
# knobs are accepted and ignored.
WARM_KEY = "object_store_warm_bytes"
FULL_TIMEOUT_KEY = "object_store_full_timeout_s"


class StoreConfig(NamedTuple):
    capacity: int          # bytes of shared memory for blobs
    warm_limit: int        # freed pages below this offset stay faulted in
    full_timeout: float    # seconds an allocation waits for room when full


def machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def store_config(object_store_memory: Any, system_config: Any) -> StoreConfig:
    """Validates init's store options and fills in the defaults."""
    capacity = _capacity(object_store_memory)
    if system_config is None:
        system_config = {}
    if not isinstance(system_config, dict):
        raise TypeError(f"_system_config must be a dict, got {type(system_config).__name__}")
    for key in sorted(set(system_config) - {WARM_KEY, FULL_TIMEOUT_KEY}):
        logger.info("_system_config[%r] has no meaning for the local runtime; ignored", key)
    warm = system_config.get(WARM_KEY, DEFAULT_WARM_BYTES)
    if not isinstance(warm, int) or isinstance(warm, bool) or warm < 0:
        raise ValueError(f"_system_config[{WARM_KEY!r}] must be an int >= 0 (bytes), "
                         f"got {warm!r}")
    timeout = system_config.get(FULL_TIMEOUT_KEY, DEFAULT_FULL_TIMEOUT_S)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout < 0:
        raise ValueError(f"_system_config[{FULL_TIMEOUT_KEY!r}] must be a number of seconds "
                         f">= 0, got {timeout!r}")
    return StoreConfig(capacity, min(warm, capacity), float(timeout))


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
