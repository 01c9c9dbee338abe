from .retrieval import RetrievalRecall, retrieval_recalls  # noqa: F401
