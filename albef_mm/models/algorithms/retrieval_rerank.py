"""ITM re-ranking of the ITC shortlist (ALBEF retrieval evaluation, §5.1).

``rerank_itm`` gives the same scores as the original per-pair loop (kept
as the reference of the parity and benchmark tools) with far less work:

* every (image, text) pair asked for by either direction is fused once;
* each image's cross-attention keys/values are projected once per fusion
  layer and shared (as a broadcast view) by all of its candidate texts;
* texts are trimmed to the longest real length in each batch instead of the
  padded 30 tokens;
* pairs are fused in large batches.
"""
from typing import Callable, Dict, Optional, Tuple

import torch


def topk_pairs(sims: torch.Tensor, k: int) -> Tuple[torch.Tensor, ...]:
    """Candidate pairs of both directions from ``sims`` ``[Ni, Nt]``.

    Returns ``(i2t_topk, t2i_topk)``: ``[Ni, k]`` text indices per image and
    ``[Nt, k]`` image indices per text (k clipped to the matrix size).
    """
    ki = min(k, sims.size(1))
    kt = min(k, sims.size(0))
    return sims.topk(ki, dim=1).indices, sims.t().topk(kt, dim=1).indices


@torch.no_grad()
def rerank_itm(neck, itm_head, image_embeds: torch.Tensor,
               image_ids: torch.Tensor, text_embeds: torch.Tensor,
               text_mask: torch.Tensor, sims: torch.Tensor, k: int,
               pair_batch: int = 512, add_itc: bool = False,
               stats: Optional[Dict[str, float]] = None,
               progress: Optional[Callable[[int, int], None]] = None
               ) -> Tuple[torch.Tensor, torch.Tensor]:
    """ITM scores of the top-k candidates of both directions.

    Args:
        neck: ``FusionEncoder``; itm_head: ``ITMHead``.
        image_embeds: ``[n, N, Dv]`` tokens of the images this call scores
            (a shard on one rank), global indices ``image_ids`` ``[n]``.
        text_embeds, text_mask: ``[Nt, L, D]`` / ``[Nt, L]`` all texts.
        sims: ``[Ni, Nt]`` ITC similarities of all images and texts.
        k: Shortlist length (``k_test``).
        pair_batch: Texts fused together for one image.
        add_itc: Add the ITC similarity to the ITM logit (LAVIS); the
            original ALBEF uses the ITM logit alone.
        stats: Optional dict receiving ``pairs`` and ``text_tokens``
            counts of the work done.
        progress: Optional ``callback(done, total)`` called after each
            image.
    Returns:
        ``(scores_i2t [Ni, Nt], scores_t2i [Nt, Ni])`` holding scores at the
        candidates of ``image_ids`` and -inf elsewhere (combine shards with
        a max-reduce, then replace -inf by -100 as the original).
    """
    i2t, t2i = topk_pairs(sims, k)
    ni, nt = sims.shape
    device = text_embeds.device
    want_i2t = torch.zeros(ni, nt, dtype=torch.bool, device=device)
    want_i2t.scatter_(1, i2t.to(device), True)
    want_t2i = torch.zeros(nt, ni, dtype=torch.bool, device=device)
    want_t2i.scatter_(1, t2i.to(device), True)
    want = want_i2t | want_t2i.t()
    lengths = text_mask.sum(1)
    scores_i2t = torch.full((ni, nt), float('-inf'), device=device)
    scores_t2i = torch.full((nt, ni), float('-inf'), device=device)
    pairs = tokens = 0
    ids = image_ids.tolist()
    for row, img in enumerate(ids):
        if progress is not None:
            progress(row, len(ids))
        texts = want[img].nonzero().squeeze(1)
        if texts.numel() == 0:
            continue
        kv = neck.project_image_kv(image_embeds[row:row + 1])
        # longest texts first so that trimming per batch is tight
        texts = texts[lengths[texts].argsort(descending=True)]
        for start in range(0, texts.numel(), pair_batch):
            js = texts[start:start + pair_batch]
            length = int(lengths[js].max())
            # one image's keys/values, broadcast (a view) to every text
            fused = neck(text_embeds[js, :length], text_mask[js, :length],
                         None, image_kv=[(k.expand(len(js), -1, -1, -1),
                                          v.expand(len(js), -1, -1, -1))
                                         for k, v in kv])
            score = itm_head(fused[:, 0])[:, 1].float()
            if add_itc:
                score = score + sims[img, js].to(score.device)
            scores_i2t[img, js] = torch.where(want_i2t[img, js], score,
                                              scores_i2t[img, js])
            scores_t2i[js, img] = torch.where(want_t2i[js, img], score,
                                              scores_t2i[js, img])
            pairs += js.numel()
            tokens += js.numel() * length
    if stats is not None:
        stats.update(pairs=pairs, text_tokens=tokens)
    return scores_i2t, scores_t2i
