"""Ray's ``ray._raylet`` names that Ray's documentation imports
(``from ray._raylet import ObjectRefGenerator``)."""
from .generators import ObjectRefGenerator
from .object_ref import ObjectRef

__all__ = ["ObjectRef", "ObjectRefGenerator"]
