"""Drop-in replacements for other libraries' parallel APIs, under Ray's
module names (``ray.util.multiprocessing``)."""
