"""Image-text retrieval evaluation: encode everything, ITC shortlist, ITM
re-rank, recall metrics (ALBEF ``Retrieval.py: evaluation``)."""
import math
from typing import Dict, List, Union

import torch
from mmengine.dist import all_gather, all_reduce, get_rank, get_world_size
from mmengine.logging import print_log
from mmengine.runner import TestLoop, ValLoop
from mmengine.runner.amp import autocast
from torch.utils.data import DataLoader

from albef_mm.registry import LOOPS
from ..progress import ETAProgress
from ..utils import unwrap_model


def _ordered(dataloader):
    """Force an ordered, unshuffled sampler: the loop needs every image once
    and maps results back by index."""
    if isinstance(dataloader, dict):
        sampler = dataloader.get('sampler', {})
        if sampler.get('shuffle', False):
            print_log('retrieval evaluation ignores sampler shuffle=True',
                      logger='current', level=30)
        dataloader = dict(dataloader,
                          sampler=dict(type='DefaultSampler', shuffle=False))
    return dataloader


class RetrievalEvalMixin:
    """Shared evaluation of the val/test retrieval loops.

    The loop orchestrates: it encodes the split through the model's
    ``extract_feat``, shards images and texts over ranks, gathers the ITC
    similarities, asks the model's ``score_shortlist`` for the ITM scores
    of the top-k and hands the score matrices to the metric.

    Config keys (``val_cfg``/``test_cfg``):
        k_test (int): ITC shortlist re-ranked by ITM (128 Flickr30K,
            256 COCO).
        itm_rerank (bool): False evaluates with ITC similarities only.
        add_itc (bool): Add the ITC similarity to the ITM logit (LAVIS);
            the original uses the ITM logit alone.
        text_batch_size (int): Texts encoded per forward (256).
        pair_batch (int): Texts fused together per image when re-ranking.
        text_max_length (int): Caption token limit (30, padded to it as the
            original; re-ranking trims the padding).
        fp16 (bool): Run encoding and re-ranking under autocast (GPU).
        progress_interval (float): Least seconds between two progress lines
            (with ETA) of each stage (30).
    """

    def _setup(self, k_test=256, itm_rerank=True, add_itc=False,
               text_batch_size=256, pair_batch=512, text_max_length=30,
               progress_interval=30.0):
        if isinstance(k_test, bool) or not isinstance(k_test, int) or \
                k_test <= 0:
            # 0 re-ranks nothing and a negative one slices from the end:
            # both give recalls that mean nothing, without a word
            raise ValueError(f'{type(self).__name__}: k_test must be a '
                             f'positive integer (128 / 256 in ALBEF), got '
                             f'{k_test!r}')
        self.progress_interval = progress_interval
        self.k_test = k_test
        self.itm_rerank = itm_rerank
        self.add_itc = add_itc
        self.text_batch_size = text_batch_size
        self.pair_batch = pair_batch
        self.text_max_length = text_max_length

    @property
    def model(self):
        return unwrap_model(self.runner.model)

    @torch.no_grad()
    def encode_images(self):
        """Local shard: global image indices, tokens, ITC features."""
        model = self.model
        ids, embeds, feats = [], [], []
        progress = ETAProgress(len(self.dataloader),
                               'retrieval eval: encoding images, batch',
                               interval=self.progress_interval)
        for batch in self.dataloader:
            data = model.data_preprocessor(batch, False)
            out = model.extract_feat(data['images'], mode='image')
            embeds.append(out['image_embeds'])
            feats.append(out['image_feat'])
            ids += [s.image_idx for s in data['data_samples']]
            progress.update()
        return (torch.tensor(ids, device=feats[0].device),
                torch.cat(embeds), torch.cat(feats))

    @torch.no_grad()
    def encode_texts(self, texts: List[str]):
        """All texts, encoded in contiguous shards per rank, gathered."""
        model = self.model
        world, rank = get_world_size(), get_rank()
        chunk = math.ceil(len(texts) / world)
        mine = texts[rank * chunk:(rank + 1) * chunk]
        embeds, masks, feats = [], [], []
        progress = ETAProgress(len(mine),
                               'retrieval eval: encoding texts, text',
                               interval=self.progress_interval)
        for start in range(0, len(mine), self.text_batch_size):
            tok = model.data_preprocessor.tokenize(
                mine[start:start + self.text_batch_size],
                max_length=self.text_max_length, padding='max_length',
                truncation=True)
            out = model.extract_feat(text_ids=tok['text_ids'],
                                     text_mask=tok['text_mask'], mode='text')
            embeds.append(out['text_embeds'])
            masks.append(tok['text_mask'])
            feats.append(out['text_feat'])
            progress.update(tok['text_ids'].size(0))
        embeds, masks, feats = (torch.cat(x) for x in (embeds, masks, feats))
        if world == 1:
            return embeds, masks, feats
        pad = chunk - embeds.size(0)
        if pad:
            embeds = torch.cat([embeds, embeds.new_zeros(pad,
                                                         *embeds.shape[1:])])
            masks = torch.cat([masks, masks.new_zeros(pad, masks.size(1))])
            feats = torch.cat([feats, feats.new_zeros(pad, feats.size(1))])
        n = len(texts)
        return tuple(torch.cat(all_gather(x))[:n]
                     for x in (embeds, masks, feats))

    def evaluate_retrieval(self) -> Dict[str, float]:
        model = self.model
        model.eval()
        dataset = self.dataloader.dataset
        with autocast(enabled=self.fp16):
            ids, image_embeds, image_feat = self.encode_images()
            text_embeds, text_mask, text_feat = self.encode_texts(
                list(dataset.texts))
        image_feat, text_feat = image_feat.float(), text_feat.float()
        ni = dataset.num_images
        # every rank needs every image feature for the text->image shortlist
        feat_all = image_feat.new_zeros(ni, image_feat.size(1))
        gathered_ids = torch.cat(all_gather(ids))
        feat_all[gathered_ids] = torch.cat(all_gather(image_feat.contiguous()))
        sims = feat_all @ text_feat.t()
        if self.itm_rerank:
            bar = []

            def progress(done, total):
                # called before image `done` (0-based) of this rank
                if not bar:
                    bar.append(ETAProgress(
                        total, 'retrieval eval: ITM re-ranking, image',
                        interval=self.progress_interval))
                if done:
                    bar[0].update()
            with autocast(enabled=self.fp16):
                i2t, t2i = model.score_shortlist(
                    image_embeds, ids, text_embeds, text_mask, sims,
                    self.k_test, self.pair_batch, self.add_itc,
                    progress=progress)
            if bar:
                bar[0].update()  # the last image
            if get_world_size() > 1:
                all_reduce(i2t, op='max')
                all_reduce(t2i, op='max')
            i2t = torch.where(torch.isinf(i2t), torch.full_like(i2t, -100.),
                              i2t)
            t2i = torch.where(torch.isinf(t2i), torch.full_like(t2i, -100.),
                              t2i)
        else:
            i2t, t2i = sims, sims.t()
        self.evaluator.process(data_samples=[dict(
            scores_i2t=i2t.cpu(), scores_t2i=t2i.cpu(),
            img2txt=dataset.img2txt, txt2img=dataset.txt2img)],
            data_batch=None)
        return self.evaluator.evaluate(1)


@LOOPS.register_module()
class RetrievalValLoop(RetrievalEvalMixin, ValLoop):
    """Validation loop for retrieval (see :class:`RetrievalEvalMixin`)."""

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator, fp16: bool = False, **kwargs):
        super().__init__(runner, _ordered(dataloader), evaluator, fp16)
        self._setup(**kwargs)

    def run(self) -> dict:
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        metrics = self.evaluate_retrieval()
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics


@LOOPS.register_module()
class RetrievalTestLoop(RetrievalEvalMixin, TestLoop):
    """Test loop for retrieval (see :class:`RetrievalEvalMixin`)."""

    def __init__(self, runner, dataloader: Union[DataLoader, Dict],
                 evaluator, fp16: bool = False, **kwargs):
        super().__init__(runner, _ordered(dataloader), evaluator, fp16)
        self._setup(**kwargs)

    def run(self) -> dict:
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        metrics = self.evaluate_retrieval()
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics
