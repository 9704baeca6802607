"""Ray's spelling of the joblib integration: ``register_ray()``."""
from __future__ import annotations

from ..joblib import register


def register_ray() -> None:
    """Registers the joblib backend names "ray" and "fastray"."""
    register()
