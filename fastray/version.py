"""fastray's version, in a module of its own: the package and the API's
runtime context both report it, and neither imports the other for it."""

__version__ = "0.1.0"
