"""Ids as Ray's ID objects show them (NodeID, PlacementGroupID, ...)."""
from __future__ import annotations


class HexId:
    """An id with Ray's hex() and binary(), equal to another of its value."""

    def __init__(self, hex_text: str) -> None:
        self._hex = hex_text

    def hex(self) -> str:
        return self._hex

    def binary(self) -> bytes:
        return bytes.fromhex(self._hex)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HexId) and other._hex == self._hex

    def __hash__(self) -> int:
        return hash(self._hex)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._hex})"
