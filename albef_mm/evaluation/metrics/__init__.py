from .retrieval import RetrievalRecall, retrieval_recalls  # noqa: F401
from .classification import ClassificationAccuracy, classification_accuracy  # noqa: F401,E501
from .grounding import GroundingAccuracy, compute_iou  # noqa: F401
from .accuracy import Accuracy  # noqa: F401
from .vqa import VQAAccuracy, VQAResultWriter  # noqa: F401
from .vqa_answer_list import VQAReleasedAnswerListHook  # noqa: F401
from .vqa_coverage import VQAAnswerCoverageHook  # noqa: F401
from .dump_results import AtomicDumpResults  # noqa: F401
