from .albef_runner import ALBEFRunner
from .retrieval_loop import RetrievalTestLoop, RetrievalValLoop

__all__ = ['ALBEFRunner', 'RetrievalTestLoop', 'RetrievalValLoop']
