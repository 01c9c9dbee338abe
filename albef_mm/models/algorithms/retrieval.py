"""ALBEF image-text retrieval fine-tuning (original
``models/model_retrieval.py``): ITC with image-index-aware targets + ITM."""
from typing import Dict, List, Optional

import torch

from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from .contrastive import ALBEFContrastiveBase


@MODELS.register_module()
class ALBEFRetrieval(ALBEFContrastiveBase):
    """Retrieval model (also grounding's training model).

    Differences from pre-training: the ITC targets treat every caption of
    the same image (in batch or queue, ``idx_queue``) as positive, the
    temperature is not clamped, ITM negatives are never drawn from the same
    image, no MLM. Evaluation is the ``RetrievalValLoop`` /
    ``RetrievalTestLoop`` (ITC shortlist, ITM re-rank), not ``predict``.

    Loading a pre-training checkpoint (albef_mm or original format)
    interpolates the position embeddings of both ViTs, keeps the queues,
    leaves ``idx_queue`` at -100 and ignores the MLM heads.

    Args:
        itc_head (dict): The ITC config (see
            :class:`ALBEFContrastiveBase`); ``use_idx_queue`` must stay
            True, ``clamp_temp`` defaults to False here, ``distill``
            switches momentum targets.
        itm_head (dict): ``ITMHead`` config.
        **kwargs: The shared keywords of :class:`ALBEFBase`.
    """

    # The momentum fusion layers are never run in retrieval but are kept
    # (and averaged) so that checkpoints match the original layout.
    momentum_modules = ('vision_backbone', 'text_backbone', 'neck')
    # Released fine-tuned files (mscoco.pth, flickr30k.pth) carry neither
    # queues nor momentum weights; the queues then start from noise (and are
    # not used by evaluation) and the momentum branch copies the online one.
    ignorable_missing = (
        r'^itc_loss\.(idx_queue|image_queue|text_queue|queue_ptr)$', )
    ignorable_unexpected = (r'^mlm_head(_m)?\.', )

    def __init__(self, itc_head: dict, itm_head: dict, **kwargs):
        itc_head = dict(dict(use_idx_queue=True, clamp_temp=False),
                        **itc_head)
        if not itc_head['use_idx_queue']:
            raise ValueError('ALBEFRetrieval needs itc_head.use_idx_queue'
                             '=True (captions of one image are positives)')
        super().__init__(itc_head=itc_head, itm_head=itm_head, **kwargs)
        self.build_momentum_branch()

    def batch_loss(self, images: torch.Tensor, text_ids: torch.Tensor,
                   text_mask: torch.Tensor,
                   data_samples: Optional[List[DataSample]]
                   ) -> Dict[str, torch.Tensor]:
        """:meth:`loss` with the samples' ``image_idx``."""
        if not data_samples or 'image_idx' not in data_samples[0]:
            raise ValueError('retrieval training needs image_idx in '
                             'every data sample (RetrievalDataset sets '
                             "it; pack it with algorithm_keys=('text', "
                             "'image_idx'))")
        idx = torch.tensor([s.image_idx for s in data_samples],
                           device=images.device)
        return self.loss(images, text_ids, text_mask, idx)

    def loss(self, images: torch.Tensor, text_ids: torch.Tensor,
             text_mask: torch.Tensor, idx: torch.Tensor
             ) -> Dict[str, torch.Tensor]:
        """ITC + ITM losses; ``idx`` ``[B]`` are image indices."""
        out = self.contrast_and_match(images, text_ids, text_mask, idx)
        return dict(loss_itc=out['loss_itc'], loss_itm=out['loss_itm'])
