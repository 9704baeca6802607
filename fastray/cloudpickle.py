"""``ray.cloudpickle``: Ray programs import the cloudpickle package under
this name; here it is that package itself."""
import sys

import cloudpickle

sys.modules[__name__] = cloudpickle
