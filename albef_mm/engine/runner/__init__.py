from .albef_runner import ALBEFRunner
from .grounding_loop import GroundingTestLoop, GroundingValLoop
from .retrieval_loop import RetrievalTestLoop, RetrievalValLoop

__all__ = ['ALBEFRunner', 'GroundingTestLoop', 'GroundingValLoop',
           'RetrievalTestLoop', 'RetrievalValLoop']
