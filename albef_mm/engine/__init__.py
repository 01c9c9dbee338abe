from .optimizers import *  # noqa
from .schedulers import *  # noqa
