"""Types of the compiled store client (csrc/store_client.pyx)."""
from typing import Any, Callable


class BlobView:
    blob_id: int
    size: int
    def __buffer__(self, flags: int) -> memoryview: ...


class Mapping:
    size: int
    def __init__(self, fd: int, size: int) -> None: ...
    def view(self, blob_id: int, offset: int, size: int,
             release: Callable[[int], Any]) -> BlobView: ...
    def write(self, offset: int, data: Any) -> None: ...
    def find(self, data: Any) -> tuple[int, int] | None: ...
