"""ALBEF visual question answering (original ``models/model_vqa.py``):
fusion encoder over image + question, answer decoder, answer-list ranking."""
import json
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from albef_mm.checkpoint.albef_keys import convert_albef_state_dict
from albef_mm.registry import MODELS
from albef_mm.structures import DataSample
from ..heads.vqa_ranking import SCORES, rank_answers
from .base import ALBEFBase

_DECODER_ORIG = re.compile(
    r'^text_decoder(_m)?\.(?:bert\.(embeddings|encoder)\.|cls\.)(.*)$')


def init_decoder_from_pretrain(state: Dict, num_layers: int
                               ) -> Tuple[OrderedDict, Dict[str, str]]:
    """Fill the answer decoder from a pre-training state dict (albef_mm
    names), online and momentum, as ALBEF's ``VQA.py`` does.

    ``decoder_head(_m).embeddings.*`` ← ``text_backbone(_m).embeddings.*``;
    ``decoder_head(_m).encoder.layer.i.*`` ← ``neck(_m).encoder.layer.i.*``
    (the fusion layers, BERT layers 6-11 of the full model) for
    ``i < num_layers``; ``decoder_head(_m).predictions.*`` ←
    ``mlm_head(_m).predictions.*``, whose keys are then removed (the
    original deletes ``text_encoder.cls.*`` after copying it).

    Returns:
        ``(new_state, copied)``: ``copied`` maps each new key to its source.
    """
    out, copied = OrderedDict(), {}
    for key, value in state.items():
        m = re.match(r'^(text_backbone|neck|mlm_head)(_m)?\.(.*)$', key)
        if m is None:
            out[key] = value
            continue
        src, suffix, rest = m.group(1), m.group(2) or '', m.group(3)
        new = None
        if src == 'text_backbone' and rest.startswith('embeddings.'):
            new = rest
        elif src == 'neck':
            lm = re.match(r'^encoder\.layer\.(\d+)\.', rest)
            if lm and int(lm.group(1)) < num_layers:
                new = rest
        elif src == 'mlm_head' and rest.startswith('predictions.'):
            new = rest
        if src != 'mlm_head':
            out[key] = value
        if new is not None:
            new_key = f'decoder_head{suffix}.{new}'
            out[new_key] = value
            copied[new_key] = key
    return out, copied


@MODELS.register_module()
class ALBEFVQA(ALBEFBase):
    """VQA by answer generation restricted to an answer list.

    The question is fused with the image by the text backbone + neck; the
    answer decoder (:class:`VQADecoderHead`) reads the fused question states
    through cross-attention. Training loss per question: the weighted sum
    over its answers of the summed token NLL of ``answer + eos`` (with
    momentum distillation: ``(1 - alpha) NLL + alpha`` soft CE against the
    momentum decoder fed with the momentum question states), divided by the
    number of questions. Prediction ranks the answer list (first-token
    top-``k_test``, then teacher-forced likelihood, see
    :mod:`albef_mm.models.heads.vqa_ranking`).

    Initialising from a pre-training checkpoint (``init_from_pretrain``,
    original or albef_mm format; or an original file as ``load_from``)
    copies the text embeddings, the MLM head and the fusion layers into the
    decoder, online and momentum; the ITC/ITM weights are reported as
    unexpected and ignored.

    Data samples: ``text`` (the cleaned question), ``gt_answer``
    (list[str]) and ``gt_answer_weight`` (list[float]) for training;
    ``question_id`` is passed on by ``predict``, which writes
    ``pred_answer`` (str), ``pred_answers`` (top answers, best first) and
    ``pred_scores`` (their soft-maxed scores).

    Config keys (args):
        decoder_head (dict): :class:`VQADecoderHead` config.
        answer_list (str | list[str], optional): Candidate answers (a json
            list file or the list); needed by ``predict``.
        k_test (int): Candidates kept after the first-token step (128).
        score (str): ``'original'`` (first token counted twice, as ALBEF)
            or ``'lavis'``.
        eos (str): Appended to every answer (``'[SEP]'``).
        distill (bool): Momentum distillation of the answer loss.
        question_max_length (int, optional): Token limit of test questions
            (None: no truncation, as ALBEF; training questions are truncated
            by the data preprocessor's ``max_length``, 25).
        init_from_pretrain (str, optional): A pre-training checkpoint
            (original or albef_mm format) loaded by ``init_weights`` (i.e.
            at the start of training) through :meth:`load_pretrain`. An
            original-format file also works as ``load_from``.
        **kwargs: The shared keywords of :class:`ALBEFBase`
            (``vision_backbone``, ``text_backbone``, ``neck``,
            ``momentum``, ``alpha``, ``pretrained_text``, ...).
    """

    momentum_modules = ('vision_backbone', 'text_backbone', 'neck',
                        'decoder_head')
    required_train_hooks = ('MomentumUpdateHook', 'AlphaWarmupHook')
    # Left over from a pre-training checkpoint: contrastive / matching heads.
    ignorable_unexpected = (r'^itc_head\.', r'^itc_loss\.', r'^itm_head\.')

    def __init__(self, decoder_head: dict,
                 answer_list: Union[None, str, Sequence[str]] = None,
                 k_test: int = 128, score: str = 'original',
                 eos: str = '[SEP]', distill: bool = True,
                 question_max_length: Optional[int] = None,
                 init_from_pretrain: Optional[str] = None, **kwargs):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(f'score must be one of {SCORES}, got {score!r}')
        self.decoder_head = MODELS.build(decoder_head)
        self.k_test = k_test
        self.score = score
        self.eos = eos
        self.distill = distill
        self.question_max_length = question_max_length
        self.init_from_pretrain = init_from_pretrain
        self._answer_file: Optional[str] = None
        self._answer_list: Optional[List[str]] = None
        self._answer_tokens = None
        if answer_list is not None:
            self.set_answer_list(answer_list)
        self.build_momentum_branch()

    # ------------------------------------------------------- checkpoints
    def convert_original_state_dict(self, state: Dict
                                    ) -> Tuple[OrderedDict, List[str]]:
        """Map an original ALBEF state dict: a released VQA model
        (``text_encoder.*``, ``text_decoder(_m).bert.*``,
        ``text_decoder(_m).cls.*``) or a pre-training checkpoint, whose
        decoder is then initialised as in ``VQA.py``."""
        decoder, rest, dropped = OrderedDict(), OrderedDict(), []
        for key, value in state.items():
            m = _DECODER_ORIG.match(key)
            if not key.startswith('text_decoder'):
                rest[key] = value
            elif key.endswith('position_ids'):
                dropped.append(key)
            elif m is None:
                raise KeyError(f'{key}: unknown text_decoder key in the '
                               'ALBEF VQA checkpoint')
            else:
                suffix, part, tail = m.group(1) or '', m.group(2), m.group(3)
                part = {'embeddings': 'embeddings.', 'encoder': 'encoder.',
                        None: 'predictions.'}[part]
                if part == 'predictions.':
                    tail = tail[len('predictions.'):]
                decoder[f'decoder_head{suffix}.{part}{tail}'] = value
        out, dropped_rest = convert_albef_state_dict(rest)
        if not decoder:
            out, _ = init_decoder_from_pretrain(
                out, len(self.decoder_head.layer))
        out.update(decoder)
        return out, dropped + dropped_rest

    def adapt_state_dict(self, state: Dict) -> Dict:
        """A pre-training checkpoint in albef_mm names (no decoder keys):
        fill the decoder from its fusion layers, text embeddings and MLM
        head (online and momentum), as ``VQA.py`` does, so ``load_from``
        takes it directly. Other state dicts are returned unchanged."""
        if any(k.startswith('decoder_head') for k in state) or \
                not any(k.startswith('neck.') for k in state):
            return state
        state, _ = init_decoder_from_pretrain(state,
                                              len(self.decoder_head.layer))
        return state

    def load_pretrain(self, ckpt_or_path):
        """Initialise from a pre-training checkpoint (original or albef_mm
        format, a path or a loaded dict): encoders as saved, decoder from
        the fusion layers, text embeddings and MLM head (online and
        momentum). A strict load: only the contrastive/matching heads of
        the checkpoint may be left over; the key report is returned."""
        from albef_mm.checkpoint import (extract_state_dict, load_any,
                                         load_checkpoint_to_model)
        from albef_mm.checkpoint.albef_keys import is_original_albef
        source = ckpt_or_path if isinstance(ckpt_or_path, str) \
            else 'state dict'
        ckpt = load_any(ckpt_or_path) if isinstance(ckpt_or_path, str) \
            else ckpt_or_path
        state = extract_state_dict(ckpt, source)
        if not is_original_albef(state):
            if any(k.startswith('decoder_head') for k in state):
                raise ValueError(
                    f'{source} already holds an answer decoder (a VQA '
                    'checkpoint): load it with load_from, not as '
                    'init_from_pretrain')
            state, _ = init_decoder_from_pretrain(
                state, len(self.decoder_head.layer))
        return load_checkpoint_to_model(self, {'state_dict': state},
                                        strict=True, source=source)

    def init_weights(self):
        """Random / HF BERT init, then ``init_from_pretrain`` if set."""
        super().init_weights()
        if self.init_from_pretrain:
            self.load_pretrain(self.init_from_pretrain)

    # ------------------------------------------------------- answer list
    def set_answer_list(self, answers: Union[str, Sequence[str]]) -> None:
        """Set the candidate answers: a list, or a json file holding one
        (read when first needed, so building the model needs no data)."""
        if isinstance(answers, str):
            self._answer_file = answers
            self._answer_list = None
        else:
            self._answer_file = None
            self._answer_list = self._check_answers(answers, 'answer_list')
        self._answer_tokens = None

    @staticmethod
    def _check_answers(answers, source: str) -> List[str]:
        if not isinstance(answers, (list, tuple)) or not answers or \
                not all(isinstance(a, str) for a in answers):
            raise ValueError(f'{source} must be a non-empty list of answer '
                             'strings')
        from albef_mm.datasets.vqa import check_answer_list
        check_answer_list(answers, source)
        return list(answers)

    @property
    def answer_file(self) -> Optional[str]:
        """The json file the answer list comes from (None when it was
        given as a list or not set)."""
        return self._answer_file

    @property
    def answer_list(self) -> Optional[List[str]]:
        """The candidate answers (None when not set)."""
        if self._answer_list is None and self._answer_file is not None:
            path = self._answer_file
            try:
                with open(path, encoding='utf-8') as f:
                    data = json.load(f)
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f'answer list not found: {path} (model.answer_list in '
                    'the config)') from err
            self._answer_list = self._check_answers(data, path)
        return self._answer_list

    def answer_tokens(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Token ids / mask of ``answer + eos`` for the whole list
        (padding 'longest', no truncation), cached."""
        if self.answer_list is None:
            raise RuntimeError('ALBEFVQA has no answer list: set '
                               'model.answer_list in the config or call '
                               'set_answer_list()')
        if self._answer_tokens is None or \
                self._answer_tokens[0].device != self.data_preprocessor.device:
            tok = self.data_preprocessor.tokenize(
                [a + self.eos for a in self.answer_list], padding='longest',
                truncation=False)
            self._answer_tokens = (tok['text_ids'], tok['text_mask'])
        return self._answer_tokens

    # ----------------------------------------------------------- modes
    def batch_loss(self, images: torch.Tensor, text_ids: torch.Tensor,
                   text_mask: torch.Tensor,
                   data_samples: Optional[List[DataSample]]
                   ) -> Dict[str, torch.Tensor]:
        """:meth:`loss` with the samples' answers (``answer + eos``
        tokenised) and answer weights."""
        if not data_samples or 'gt_answer' not in data_samples[0]:
            raise ValueError(
                'VQA training needs gt_answer and gt_answer_weight in '
                'every data sample (VQADataset sets them; pack them with '
                "algorithm_keys=('text', 'gt_answer', "
                "'gt_answer_weight'))")
        answers, weights, counts = [], [], []
        for s in data_samples:
            answers += [a + self.eos for a in s.gt_answer]
            weights += list(s.gt_answer_weight)
            counts.append(len(s.gt_answer))
        tok = self.data_preprocessor.tokenize(answers, padding='longest',
                                              truncation=False)
        return self.loss(images, text_ids, text_mask, tok['text_ids'],
                         tok['text_mask'],
                         torch.tensor(weights, device=images.device),
                         torch.tensor(counts, device=images.device))

    def encode_question(self, images: torch.Tensor, text_ids: torch.Tensor,
                        text_mask: torch.Tensor, momentum: bool = False
                        ) -> torch.Tensor:
        """Fused question states ``[B, L, D]`` (online or momentum)."""
        return self.fuse(images, text_ids, text_mask, momentum)

    def loss(self, images: torch.Tensor, text_ids: torch.Tensor,
             text_mask: torch.Tensor, answer_ids: torch.Tensor,
             answer_mask: torch.Tensor, weights: torch.Tensor,
             counts: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``loss_vqa`` = Σ weight · answer loss / number of questions.

        Args:
            images, text_ids, text_mask: Images and questions ``[B, ...]``.
            answer_ids, answer_mask: All answers of the batch, question by
                question ``[N, La]`` (``[CLS] tokens [SEP] [PAD]..``).
            weights: ``[N]`` answer weights.
            counts: ``[B]`` number of answers of each question.
        """
        rows = torch.arange(images.size(0), device=images.device
                            ).repeat_interleave(counts)
        states = self.encode_question(images, text_ids, text_mask)
        soft = None
        if self.distill:
            with torch.no_grad():
                states_m = self.encode_question(images, text_ids, text_mask,
                                                momentum=True)
                logits_m = self.decoder_head_m(answer_ids, answer_mask,
                                               states_m, text_mask, rows)
                soft = logits_m[:, :-1].float().softmax(dim=-1)
        logits = self.decoder_head(answer_ids, answer_mask, states,
                                   text_mask, rows)
        answer_loss = self.decoder_head.answer_nll(logits, answer_ids, soft,
                                                   self.alpha)
        return dict(loss_vqa=(weights * answer_loss).sum() / images.size(0))

    # ----------------------------------------------------------- predict
    @torch.no_grad()
    def answer_questions(self, images: torch.Tensor, text_ids: torch.Tensor,
                         text_mask: torch.Tensor, k: Optional[int] = None,
                         answers: Optional[Tuple[torch.Tensor,
                                                 torch.Tensor]] = None
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Rank the answer list for each question.

        Args:
            images, text_ids, text_mask: Images and questions.
            k: Candidates after the first-token step (``k_test``).
            answers: Token ids and mask of the candidates (default: the
                tokenised answer list).

        Returns:
            ``(ids, probs)`` ``[B, k]``: answer-list indices, best first,
            and their soft-maxed scores.
        """
        answer_ids, answer_mask = answers or self.answer_tokens()
        states = self.encode_question(images, text_ids, text_mask)
        return rank_answers(self.decoder_head, states, text_mask, answer_ids,
                            answer_mask, k or self.k_test, self.score)

    def predict(self, images: torch.Tensor, text_ids: torch.Tensor,
                text_mask: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                topk: int = 5) -> List[DataSample]:
        """Top answers of each question as DataSamples (``pred_answer``,
        ``pred_answers``, ``pred_scores``; input fields kept)."""
        if data_samples and 'text' in data_samples[0]:
            # ALBEF tokenises test questions without truncation.
            tok = self.data_preprocessor.tokenize(
                [s.text for s in data_samples], padding='longest',
                truncation=self.question_max_length is not None,
                max_length=self.question_max_length or 512)
            text_ids, text_mask = tok['text_ids'], tok['text_mask']
        ids, probs = self.answer_questions(images, text_ids, text_mask)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(images.size(0))]
        ids, probs = ids.cpu().tolist(), probs.cpu().tolist()
        for sample, row, p in zip(data_samples, ids, probs):
            sample.pred_answer = self.answer_list[row[0]]
            sample.pred_answers = [self.answer_list[i] for i in row[:topk]]
            sample.pred_scores = p[:topk]
        return data_samples
