from .algorithms import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .data_preprocessor import ALBEFDataPreprocessor  # noqa: F401
from .heads import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .tokenizer import ALBEFTokenizer  # noqa: F401
