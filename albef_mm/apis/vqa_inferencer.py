"""Visual question answering for image files or arrays."""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config

from albef_mm.datasets.transforms.text import clean_text, pre_question
from .feature_extractor import FeatureExtractor, _image_pipeline
from .model import init_model


class VQAInferencer(FeatureExtractor):
    """Answers questions about images by ranking the model's answer list.

    Each (image, question) pair gets ``pred_answer`` (the best answer),
    ``answers`` (the ``topk`` best, best first) and ``scores`` (their
    soft-maxed ranking scores), computed by the model's
    ``answer_questions`` on the config's test transform and the question
    cleaned as the test dataset does (50 words, no token truncation).

    Example:
        >>> inf = VQAInferencer('configs/albef/vqa_shapes_tiny.py',
        ...                     'work_dirs/vqa_shapes_tiny/epoch_5.pth')
        >>> inf('shapes_000000.jpg', 'What color is the circle?')[0]

    Args:
        config (str | Config): A VQA config (its ``model.answer_list``
            gives the candidates).
        checkpoint (str, optional): VQA checkpoint (albef_mm or original).
        device (str): ``'cpu'`` or ``'cuda'``.
        batch_size (int): Questions per forward pass.
        topk (int): Answers returned per question.
        cfg_options (dict, optional): Config overrides.
    """

    def __init__(self, config: Union[str, Config],
                 checkpoint: Optional[str] = None, device: str = 'cpu',
                 batch_size: int = 16, topk: int = 5,
                 cfg_options: Optional[dict] = None):
        self.model = init_model(config, checkpoint, device, cfg_options)
        if type(self.model).__name__ != 'ALBEFVQA':
            raise TypeError('VQAInferencer needs an ALBEFVQA config, got '
                            f'{type(self.model).__name__}')
        self.pipeline = _image_pipeline(self.model.cfg, self.model)
        self.batch_size = batch_size
        self.topk = topk

    @torch.no_grad()
    def __call__(self, images, questions: Union[str, Sequence[str]]
                 ) -> List[dict]:
        """Answers for ``(images[i], questions[i])``."""
        images = self._as_list(images)
        questions = [questions] if isinstance(questions, str) \
            else list(questions)
        if len(images) != len(questions):
            raise ValueError(f'VQAInferencer pairs image i with question i: '
                             f'got {len(images)} images and '
                             f'{len(questions)} questions')
        answers = self.model.answer_list
        k = max(self.topk, self.model.k_test)
        results = []
        for s in range(0, len(questions), self.batch_size):
            tok = self.model.data_preprocessor.tokenize(
                [clean_text(q, f'question {s + n}', pre_question, 50,
                            'question') for n, q in
                 enumerate(questions[s:s + self.batch_size])],
                truncation=False)
            ids, probs = self.model.answer_questions(
                self._images(images[s:s + self.batch_size]),
                tok['text_ids'], tok['text_mask'], k=k)
            for row, p in zip(ids.cpu().tolist(), probs.cpu().tolist()):
                top = [answers[i] for i in row[:self.topk]]
                results.append(dict(pred_answer=top[0], answers=top,
                                    scores=p[:self.topk]))
        return results
