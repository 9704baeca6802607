"""Types of the compiled scheduler (csrc/_scheduler.pyx)."""
from typing import Any, TypeVar

from ._store import Mapping

_Ref = TypeVar("_Ref")


def new_refs(ref_type: type[_Ref], first_id: int, count: int, generation: int) -> list[_Ref]: ...

HEADER_SIZE: int
TASK: int
REPLY: int
ALLOCATED: int
REVOKE: int
TASK_INLINE: int
RESULT: int
SUBMIT: int
DEFINE: int
PUT: int
PROMISE: int
PUT_MANY: int
WAIT: int
WAIT_CANCEL: int
REFS: int
CANCEL: int
ALLOC: int
SPAWN: int
SPAWNED: int
EXITED: int
SPAWN_ACTOR: int
STATUS_OK: int
STATUS_ERROR: int
STATUS_RETRYABLE_ERROR: int
STATUS_INTERRUPTED: int
WAIT_FETCH: int
WAIT_FAIL_FAST: int
CANCEL_FORCE: int
CANCEL_RECURSIVE: int
OBJ_PENDING: int
OBJ_READY: int
OBJ_FAILED: int
OBJ_UNKNOWN: int
PAYLOAD_VALUE: int
PAYLOAD_ERROR: int
PAYLOAD_CANCELLED: int
PAYLOAD_CRASHED: int
PAYLOAD_LOST: int
PAYLOAD_STORE_FULL: int
PAYLOAD_ACTOR_DIED: int
PAYLOAD_ACTOR_UNAVAILABLE: int
PAYLOAD_UNSCHEDULABLE: int
PAYLOAD_ACTOR_UNSCHEDULABLE: int
PAYLOAD_GROUP_REMOVED: int
PAYLOAD_INTERRUPTED: int
POOL_CREATE: int
POOL_REMOVE: int
DEMAND_ADD: int
DEVICES: int
TASK_ACTOR_CREATE: int
ACTOR_OP: int
ACTOR_CREATE: int
ACTOR_KILL: int
ACTOR_LOOKUP: int
ACTOR_NAMES: int
ACTOR_NAMED: int
ACTOR_DETACHED: int
ACTOR_GET_IF_EXISTS: int
ACTOR_SEQUENTIAL: int
ACTOR_STATUS_OK: int
ACTOR_STATUS_EXISTS: int
ACTOR_STATUS_UNKNOWN: int
STATUS_ACTOR_EXIT: int
OUTCOMES: dict[int, str]


class Scheduler:
    def __init__(self, num_cpus: int, max_workers: int, spawner_fd: int, origin_base: int,
                 store_fd: int, mapping: Mapping, warm_limit: int, full_timeout: float,
                 spill_dir: bytes, max_events: int) -> None: ...
    def declare_resources(self, gpu_ids: list[bytes], custom_amounts: list[float]) -> None: ...
    def free_resources(self, custom_names: list[str]) -> dict[str, float]: ...
    @property
    def next_origin(self) -> int: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def define(self, fn_id: int, name: bytes, blob: bytes) -> None: ...
    def submit(self, task_id: int, fn_id: int, num_returns: int, cpu_milli: int,
               max_retries: int, deps: list[int], contained: list[int],
               args: bytes, actor: int, ref_type: type[_Ref], generation: int,
               pool: int = 0, env: int = 0, demand: int = 0) -> list[_Ref]: ...
    def put(self, oid: int, payload: bytes, contained: list[int]) -> None: ...
    def promise(self, first: int, count: int) -> None: ...
    def take_refs(self, ids: list[int], ref_type: type[_Ref], generation: int
                  ) -> list[_Ref]: ...
    def incref(self, oid: int) -> None: ...
    def decref(self, oid: int) -> bool: ...
    def take_unhandled(self) -> list[bytes]: ...
    def wait(self, ids: list[int], needed: int, timeout: float, fail_fast: bool) -> bytes: ...
    def wait_ready(self, refs: list, ref_type: type, generation: int, needed: int
                   ) -> tuple[list, list] | None: ...
    def fetch(self, ids: list[int]
              ) -> list[tuple[bytes, list[tuple[int, int, int]]] | None]: ...
    def next_ids(self, count: int) -> int: ...
    def ready_values(self, ids: list[int], loads: Any) -> list[Any] | None: ...
    def fetch_ready(self, ids: list[int]
                    ) -> list[tuple[bytes, list[tuple[int, int, int]]]] | None: ...
    def alloc(self, ids: list[int], sizes: list[int]
              ) -> tuple[list[int], None] | tuple[None, str]: ...
    def unpin(self, blob_id: int) -> None: ...
    def cancel(self, object_id: int, force: bool, recursive: bool) -> bool: ...
    def actor_op(self, op: int, body: bytes) -> tuple[int, bytes]: ...
    def actors(self) -> list[dict[str, Any]]: ...
    def timeline(self, since_ns: int, merge_gap_ns: int,
                 limit: int) -> list[tuple[int, str, int, int, int, str, bool, int]]: ...
    def failures(self) -> list[tuple[int, str, int, str, bytes, bool]]: ...
    def task_events(self, last: int = 0
                    ) -> list[tuple[int, str, int, str, int, int, int, int]]: ...
    def snapshot(self) -> dict[str, Any]: ...
    def worker_pids(self) -> list[int]: ...
    def stats(self) -> dict[str, Any]: ...

def untrack(ref: object) -> None: ...
