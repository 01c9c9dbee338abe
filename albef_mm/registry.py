"""Registries of albef_mm.

Every registry is a child of the MMEngine root of the same name so that the
runner (built in scope ``mmengine``) finds our modules once
``default_scope='albef_mm'`` is set. ``locations`` makes a registry import the
sub-package that registers into it the first time it is used, so configs never
need ``custom_imports``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

# Runners and loops (custom evaluation loops live in engine.runner).
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS,
                   locations=['albef_mm.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS,
                 locations=['albef_mm.engine'])
# Hooks: momentum EMA, queue update, alpha warm-up.
HOOKS = Registry('hook', parent=MMENGINE_HOOKS,
                 locations=['albef_mm.engine', 'albef_mm.evaluation'])
# Model wrappers (a DDP wrapper that also works on CPU with gloo).
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS,
                          locations=['albef_mm.engine'])
# Optimisation.
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS,
                      locations=['albef_mm.engine'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS,
                          locations=['albef_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['albef_mm.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler',
                            parent=MMENGINE_PARAM_SCHEDULERS,
                            locations=['albef_mm.engine'])
# Data.
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS,
                    locations=['albef_mm.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS,
                         locations=['albef_mm.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS,
                      locations=['albef_mm.datasets'])
# Models: backbones, necks, heads, algorithms and the data preprocessor.
MODELS = Registry('model', parent=MMENGINE_MODELS,
                  locations=['albef_mm.models'])
# Evaluation.
METRICS = Registry('metric', parent=MMENGINE_METRICS,
                   locations=['albef_mm.evaluation'])
EVALUATORS = Registry('evaluator', parent=MMENGINE_EVALUATOR,
                      locations=['albef_mm.evaluation'])
# Visualisation. No project visualizer class: these children let MMEngine's
# Visualizer / LocalVisBackend (default_runtime.py) build in scope albef_mm
# (without them every run warns that the scope has no such registry).
# albef_mm.visualization holds plain drawing helpers (heat-map overlays).
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS,
                       locations=['albef_mm.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS,
                       locations=['albef_mm.visualization'])
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS,
                          locations=['albef_mm.engine'])
# Tokenizers have no MMEngine counterpart.
TOKENIZERS = Registry('tokenizer', locations=['albef_mm.models'])

__all__ = [
    'RUNNERS', 'LOOPS', 'HOOKS', 'MODEL_WRAPPERS', 'OPTIMIZERS',
    'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS',
    'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS', 'METRICS',
    'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS', 'TOKENIZERS'
]
