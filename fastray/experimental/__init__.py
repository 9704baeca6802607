"""Ray's ``ray.experimental`` names that Ray programs use (``tqdm_ray``)."""
