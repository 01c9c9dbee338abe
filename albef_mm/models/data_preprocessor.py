"""Batching, normalisation and tokenisation in front of every ALBEF model."""
from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor

from albef_mm.registry import MODELS, TOKENIZERS

# CLIP statistics (ALBEF uses them although its ViT is DeiT-initialised),
# on the 0-255 scale of the uint8 images the pipelines produce.
CLIP_MEAN = (0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255)
CLIP_STD = (0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255)


@MODELS.register_module()
class ALBEFDataPreprocessor(BaseDataPreprocessor):
    """Stack and normalise images; tokenise and pad the samples' texts.

    Input ``data``: ``{'inputs': list of uint8 [C, H, W] (or [2, C, H, W]
    for NLVR2) RGB tensors, 'data_samples': list[DataSample]}``.
    Output: ``{'images': float [B, C, H, W], 'text_ids': long [B, L],
    'text_mask': long [B, L], 'data_samples': ...}``; text keys are absent
    when the samples carry no ``text_key`` field.

    Args:
        mean (Sequence[float]): Per-channel mean on the 0-255 scale.
        std (Sequence[float]): Per-channel std on the 0-255 scale.
        tokenizer (dict): Config of a TOKENIZERS entry (built lazily).
        text_key (str): DataSample field holding the text.
        max_length (int, optional): Token limit incl. ``[CLS]`` (25 for
            pre-training).
        truncation (bool): Truncate to ``max_length``.
        padding (str): ``'longest'`` or ``'max_length'``.
    """

    def __init__(self, mean: Sequence[float] = CLIP_MEAN,
                 std: Sequence[float] = CLIP_STD,
                 tokenizer: Optional[dict] = None, text_key: str = 'text',
                 max_length: Optional[int] = 25, truncation: bool = True,
                 padding: str = 'longest'):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std).view(-1, 1, 1),
                             persistent=False)
        if tokenizer is None:
            tokenizer = dict(type='ALBEFTokenizer')
        # Built on first use, so models fed with token ids (converters,
        # parity checks) need no vocabulary.
        self.tokenizer_cfg = tokenizer
        self._tokenizer = None
        self.text_key = text_key
        self.max_length = max_length
        self.truncation = truncation
        self.padding = padding

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = TOKENIZERS.build(self.tokenizer_cfg)
        return self._tokenizer

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float() - self.mean) / self.std

    def tokenize(self, texts: Union[str, List[str]],
                 max_length: Optional[int] = None,
                 padding: Optional[str] = None,
                 truncation: Optional[bool] = None) -> dict:
        """Tokenise on this preprocessor's device with its defaults."""
        tok = self.tokenizer(
            texts, padding=padding or self.padding,
            truncation=self.truncation if truncation is None else truncation,
            max_length=max_length or self.max_length)
        return dict(text_ids=tok['input_ids'].to(self.device),
                    text_mask=tok['attention_mask'].to(self.device))

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        out = dict(images=self.normalize(inputs))
        samples = data.get('data_samples')
        out['data_samples'] = samples
        if samples and self.text_key in samples[0]:
            texts = [s.get(self.text_key) for s in samples]
            if all(isinstance(t, str) for t in texts):
                out.update(self.tokenize(texts))
        return out
