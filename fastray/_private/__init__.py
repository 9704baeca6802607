"""Ray's ``ray._private`` names that Ray's documentation uses."""
from . import internal_api

__all__ = ["internal_api"]
