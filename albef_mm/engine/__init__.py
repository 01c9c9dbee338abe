from .hooks import *  # noqa: F401,F403
from .model_wrappers import CPUFriendlyDDP  # noqa: F401
from .optimizers import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
from .schedulers import *  # noqa: F401,F403
from .strategies import *  # noqa: F401,F403
from .train_iteration import default_step_hooks, run_train_iteration  # noqa: F401,E501
