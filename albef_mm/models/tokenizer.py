"""The ALBEF text tokenizer.

ALBEF uses the bert-base-uncased WordPiece vocabulary with one change to the
special-token template: a *single* text is encoded as ``[CLS] x1 ... xn``
with **no trailing** ``[SEP]``; a pair keeps ``[CLS] A [SEP] B [SEP]``. Every
released ALBEF checkpoint was trained on such inputs (the original's
``models/tokenization_bert.py`` drops the final ``[SEP]`` of single texts).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from tokenizers.processors import TemplateProcessing
from transformers import BertTokenizerFast

from albef_mm.registry import TOKENIZERS

TextInput = Union[str, Sequence[str], Sequence[Tuple[str, str]]]

_PADDING_CHOICES = ('longest', 'max_length', 'do_not_pad')


@TOKENIZERS.register_module()
class ALBEFTokenizer:
    """Lower-case BERT WordPiece tokenizer without a final ``[SEP]``.

    It wraps a transformers ``BertTokenizerFast`` whose post-processor is
    replaced by the ALBEF template:

    * single text: ``[CLS] tokens`` (no ``[SEP]``);
    * pair: ``[CLS] A [SEP] B [SEP]``.

    The literal string ``"[SEP]"`` inside a text is a special token, so
    ``'yes[SEP]'`` becomes ``[CLS] yes [SEP]`` (VQA answers get their
    end-of-sequence this way). With ``truncation=True, max_length=25`` a
    single text keeps ``[CLS]`` plus at most 24 word-pieces.

    Config keys:
        name_or_path (str): a directory holding ``vocab.txt`` (e.g. a local
            copy of bert-base-uncased), a direct path to a ``vocab.txt``
            file, or a hub name such as ``'bert-base-uncased'`` (only works
            online or when the hub cache already has it).
            Default ``'bert-base-uncased'``.
        model_max_length (int): length used when ``truncation=True`` and no
            ``max_length`` is given. Default 512.
        **kwargs: any other keyword is passed to ``BertTokenizerFast``
            (e.g. ``do_lower_case``, which defaults to True).

    Example:
        >>> from albef_mm.registry import TOKENIZERS
        >>> tok = TOKENIZERS.build(dict(type='ALBEFTokenizer',
        ...                             name_or_path='data/bert-base-uncased'))
        >>> out = tok(['A dog runs.', 'yes[SEP]'], padding='longest',
        ...           truncation=True, max_length=25)
        >>> out['input_ids'].shape, out['attention_mask'].shape  # [B, L]
    """

    def __init__(self,
                 name_or_path: str = 'bert-base-uncased',
                 model_max_length: int = 512,
                 **kwargs) -> None:
        self.name_or_path = str(name_or_path)
        kwargs.setdefault('do_lower_case', True)
        self._tok = self._load(self.name_or_path, model_max_length, kwargs)
        self._template = TemplateProcessing(
            single=f'{self._tok.cls_token} $A:0',
            pair=(f'{self._tok.cls_token}:0 $A:0 {self._tok.sep_token}:0 '
                  f'$B:1 {self._tok.sep_token}:1'),
            special_tokens=[(self._tok.cls_token, self._tok.cls_token_id),
                            (self._tok.sep_token, self._tok.sep_token_id)])
        self._apply_template()

    # ------------------------------------------------------------------ #
    # loading
    # ------------------------------------------------------------------ #
    @staticmethod
    def _load(name_or_path: str, model_max_length: int,
              kwargs: dict) -> BertTokenizerFast:
        kwargs = dict(kwargs, model_max_length=model_max_length)
        path = osp.expanduser(name_or_path)
        if osp.isfile(path):
            # transformers 5 silently ignores ``vocab_file=``; the vocab
            # path must be passed positionally.
            return BertTokenizerFast(path, **kwargs)
        if osp.isdir(path):
            vocab = osp.join(path, 'vocab.txt')
            if osp.isfile(vocab):
                return BertTokenizerFast(vocab, **kwargs)
            if osp.isfile(osp.join(path, 'tokenizer.json')):
                return BertTokenizerFast.from_pretrained(path, **kwargs)
            raise FileNotFoundError(
                f'ALBEFTokenizer: directory {name_or_path!r} has no '
                'vocab.txt. Pass a directory containing the BERT '
                'vocab.txt (e.g. a local copy of bert-base-uncased) or the '
                'path of a vocab.txt file.')
        msg = (f'ALBEFTokenizer: {name_or_path!r} is not an existing local '
               'path and could not be loaded from the Hugging Face hub '
               '({}; offline or HF_HUB_OFFLINE=1?). Pass a directory '
               'containing vocab.txt (e.g. a local copy of bert-base-uncased) '
               'or the path of a vocab.txt file.')
        try:
            tok = BertTokenizerFast.from_pretrained(name_or_path, **kwargs)
        except Exception as err:  # unknown repo, bad name, network, ...
            raise FileNotFoundError(msg.format(type(err).__name__)) from err
        # transformers 5 does not raise when nothing could be fetched (e.g.
        # offline without a cache): it returns a tokenizer whose vocabulary
        # holds only the five special tokens. Treat that as "not found".
        if set(tok.get_vocab()) <= set(tok.all_special_tokens):
            raise FileNotFoundError(
                msg.format('no vocabulary was found, only special tokens'))
        return tok

    def _apply_template(self) -> None:
        """(Re)install the ALBEF template on the backend tokenizer."""
        self._tok.backend_tokenizer.post_processor = self._template

    def _check_template(self) -> None:
        # transformers may rebuild the post-processor (e.g. when special
        # tokens are changed); the ALBEF template adds 1 / 3 tokens.
        post = self._tok.backend_tokenizer.post_processor
        if (post is None or post.num_special_tokens_to_add(False) != 1
                or post.num_special_tokens_to_add(True) != 3):
            self._apply_template()

    # ------------------------------------------------------------------ #
    # encoding
    # ------------------------------------------------------------------ #
    def __call__(self,
                 texts: TextInput,
                 padding: Union[str, bool] = 'longest',
                 truncation: bool = True,
                 max_length: Optional[int] = None,
                 return_tensors: Optional[str] = 'pt'
                 ) -> Dict[str, Union[torch.Tensor, List[List[int]]]]:
        """Tokenise a text, a list of texts or a list of ``(a, b)`` pairs.

        Args:
            texts: a str, a list of str, or a list of 2-tuples/lists of str.
                A single str gives a batch of one.
            padding: ``'longest'`` (or True) pads to the longest sequence;
                ``'max_length'`` pads to ``max_length`` (sequences longer
                than that, possible only with ``truncation=False``, make
                the batch as long as the longest one); ``'do_not_pad'``
                (or False) leaves the lengths as they are.
            truncation: truncate to ``max_length`` (or
                ``model_max_length`` when None). Pairs use the
                longest-first strategy. With False nothing is truncated
                even if ``max_length`` is given (like the original
                retrieval training, transformers 4.8.1).
            max_length: maximal length including the special tokens.
            return_tensors: ``'pt'`` for LongTensors ``[B, L]``, None for
                lists of lists.

        Returns:
            dict: ``input_ids`` and ``attention_mask`` (1 = real token).
        """
        firsts, seconds = self._split_inputs(texts)
        padding = self._padding_strategy(padding)
        if padding == 'max_length' and max_length is None:
            raise ValueError("padding='max_length' needs max_length")
        if return_tensors not in ('pt', None):
            raise ValueError(
                f"return_tensors must be 'pt' or None, got {return_tensors!r}")
        self._check_template()

        enc_kwargs = dict(add_special_tokens=True, padding=False,
                          return_attention_mask=False,
                          return_token_type_ids=False)
        if truncation:
            enc_kwargs.update(
                truncation='longest_first',
                max_length=(max_length if max_length is not None else
                            self._tok.model_max_length))
        else:
            enc_kwargs.update(truncation=False)
        if seconds is None:
            ids = self._tok(firsts, **enc_kwargs)['input_ids']
        else:
            ids = self._tok(firsts, seconds, **enc_kwargs)['input_ids']
        return self._pad(ids, padding, max_length, return_tensors)

    @staticmethod
    def _split_inputs(
            texts: TextInput) -> Tuple[List[str], Optional[List[str]]]:
        if isinstance(texts, str):
            return [texts], None
        texts = list(texts)
        if not texts:
            raise ValueError('ALBEFTokenizer got an empty list of texts')
        if all(isinstance(t, str) for t in texts):
            return texts, None
        if all(
                isinstance(t, (tuple, list)) and len(t) == 2
                and all(isinstance(s, str) for s in t) for t in texts):
            return [t[0] for t in texts], [t[1] for t in texts]
        raise TypeError('ALBEFTokenizer expects a str, a list of str or a '
                        'list of (str, str) pairs (not mixed)')

    @staticmethod
    def _padding_strategy(padding: Union[str, bool]) -> str:
        if padding is True:
            return 'longest'
        if padding is False or padding is None:
            return 'do_not_pad'
        if padding not in _PADDING_CHOICES:
            raise ValueError(
                f'padding must be one of {_PADDING_CHOICES} or a bool, '
                f'got {padding!r}')
        return padding

    def _pad(self, ids: List[List[int]], padding: str,
             max_length: Optional[int], return_tensors: Optional[str]
             ) -> Dict[str, Union[torch.Tensor, List[List[int]]]]:
        longest = max(len(x) for x in ids)
        if padding == 'longest':
            target = longest
        elif padding == 'max_length':
            target = max(longest, max_length)
        else:
            target = None
        pad_id = self.pad_token_id
        input_ids, masks = [], []
        for seq in ids:
            n_pad = 0 if target is None else target - len(seq)
            input_ids.append(list(seq) + [pad_id] * n_pad)
            masks.append([1] * len(seq) + [0] * n_pad)
        if return_tensors is None:
            return dict(input_ids=input_ids, attention_mask=masks)
        if len({len(x) for x in input_ids}) != 1:
            raise ValueError('texts of different lengths cannot be stacked '
                             "without padding; use padding='longest' or "
                             'return_tensors=None')
        return dict(input_ids=torch.tensor(input_ids, dtype=torch.long),
                    attention_mask=torch.tensor(masks, dtype=torch.long))

    # ------------------------------------------------------------------ #
    # helpers and special ids
    # ------------------------------------------------------------------ #
    def tokenize(self, text: str) -> List[str]:
        """Word-pieces of ``text`` (no special tokens added)."""
        return self._tok.tokenize(text)

    def convert_tokens_to_ids(
            self, tokens: Union[str, List[str]]) -> Union[int, List[int]]:
        return self._tok.convert_tokens_to_ids(tokens)

    def convert_ids_to_tokens(
            self, ids: Union[int, List[int]]) -> Union[str, List[str]]:
        return self._tok.convert_ids_to_tokens(ids)

    def decode(self, ids: Union[torch.Tensor, List[int]],
               skip_special_tokens: bool = True) -> str:
        """Turn one sequence of ids back into text."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self._tok.decode(ids, skip_special_tokens=skip_special_tokens)

    def batch_decode(self, ids: Union[torch.Tensor, List[List[int]]],
                     skip_special_tokens: bool = True) -> List[str]:
        """Decode every row of a ``[B, L]`` tensor or list of lists."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return [self.decode(x, skip_special_tokens) for x in ids]

    @property
    def hf_tokenizer(self) -> BertTokenizerFast:
        """The wrapped transformers tokenizer (ALBEF template installed)."""
        return self._tok

    @property
    def pad_token_id(self) -> int:
        return self._tok.pad_token_id

    @property
    def cls_token_id(self) -> int:
        return self._tok.cls_token_id

    @property
    def sep_token_id(self) -> int:
        return self._tok.sep_token_id

    @property
    def mask_token_id(self) -> int:
        return self._tok.mask_token_id

    @property
    def unk_token_id(self) -> int:
        return self._tok.unk_token_id

    @property
    def vocab_size(self) -> int:
        """Size of the WordPiece vocabulary (30522 for bert-base-uncased)."""
        return self._tok.vocab_size

    def __len__(self) -> int:
        return len(self._tok)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(name_or_path={self.name_or_path!r}, '
                f'vocab_size={self.vocab_size})')
