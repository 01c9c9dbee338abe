"""Caption and question cleaning exactly as ALBEF's ``dataset/utils.py``."""
import re
from typing import Callable, Sequence, Union

from mmcv.transforms import BaseTransform

from albef_mm.registry import TRANSFORMS

# Characters deleted from captions and questions: , . ' ! ? " ( ) * # : ; ~
_PUNCT = re.compile(r"[,.'!?\"()*#:;~]")
_MULTI_SPACE = re.compile(r'\s{2,}')


def _truncate(text: str, max_words: int) -> str:
    words = text.split(' ')
    if len(words) > max_words:
        text = ' '.join(words[:max_words])
    return text


def pre_caption(text: str, max_words: int = 30) -> str:
    """Clean a caption, NLVR2 sentence, VE hypothesis or referring expression.

    Lower-case; delete ``, . ' ! ? " ( ) * # : ; ~``; replace ``-`` and ``/``
    with a space and ``<person>`` with ``person``; collapse runs of two or more
    whitespace characters into one space; strip; keep the first ``max_words``
    space-separated words.

    Args:
        text (str): Raw text.
        max_words (int): Maximum number of words kept. Defaults to 30.

    Returns:
        str: The cleaned text.

    Example:
        >>> pre_caption('A man -- riding a <person>\'s "bike"!  ')
        'a man riding a persons bike'
    """
    text = _PUNCT.sub('', text.lower())
    text = text.replace('-', ' ').replace('/', ' ')
    text = text.replace('<person>', 'person')
    text = _MULTI_SPACE.sub(' ', text)
    text = text.rstrip('\n').strip(' ')
    return _truncate(text, max_words)


def pre_question(text: str, max_words: int = 30) -> str:
    """Clean a VQA question (ALBEF uses 30 words for training, 50 for test).

    Lower-case; delete ``, . ' ! ? " ( ) * # : ; ~``; replace ``-`` and ``/``
    with a space; strip trailing spaces; keep the first ``max_words``
    space-separated words. Unlike :func:`pre_caption`, repeated spaces are
    *not* collapsed (an empty "word" counts towards ``max_words``) and
    ``<person>`` is kept.

    Args:
        text (str): Raw question.
        max_words (int): Maximum number of words kept. Defaults to 30.

    Returns:
        str: The cleaned question.

    Example:
        >>> pre_question('What color is the T-shirt?')
        'what color is the t shirt'
    """
    text = _PUNCT.sub('', text.lower())
    text = text.replace('-', ' ').replace('/', ' ')
    text = text.rstrip(' ')
    return _truncate(text, max_words)


def clean_text(text, where: str, clean: Callable[[str, int], str] =
               pre_caption, max_words: int = 30, what: str = 'text') -> str:
    """``clean(text, max_words)``, refusing what the model cannot use: a
    value that is not a string, or one that is empty once cleaned (blank,
    or only punctuation), which would be encoded as a lone ``[CLS]`` and
    give an answer that means nothing.

    Args:
        text: The raw text.
        where (str): Starts the error message (file and record, or the
            input index).
        clean: :func:`pre_caption` or :func:`pre_question`.
        max_words (int): Words kept.
        what (str): The field's name in the message (``caption``, ...).

    Raises:
        ValueError: Naming ``where``, the field and the raw value.
    """
    if not isinstance(text, str):
        raise ValueError(f'{where}: {what} must be a string, got '
                         f'{type(text).__name__} {text!r:.80}')
    cleaned = clean(text, max_words)
    if not cleaned.strip():
        raise ValueError(
            f'{where}: {what} {text!r:.80} is empty once cleaned (ALBEF '
            'lower-cases it and removes punctuation); fix or remove it')
    return cleaned


@TRANSFORMS.register_module()
class CleanCaption(BaseTransform):
    """Clean text fields with :func:`pre_caption` or :func:`pre_question`.

    The ALBEF datasets of this project already clean their text when they
    read it (``max_words`` argument of the dataset); this transform is for
    datasets or inferencers that hand raw text to the pipeline.

    Required keys: every key in ``keys`` that is present (str or list[str];
    absent keys are skipped).

    Modified keys: the same keys, cleaned (a list is cleaned element-wise).

    Args:
        keys (str | Sequence[str]): Text keys to clean. Defaults to ``'text'``.
        max_words (int): Words kept. Defaults to 30.
        mode (str): ``'caption'`` (:func:`pre_caption`) or ``'question'``
            (:func:`pre_question`). Defaults to ``'caption'``.
    """

    def __init__(self,
                 keys: Union[str, Sequence[str]] = 'text',
                 max_words: int = 30,
                 mode: str = 'caption') -> None:
        if mode not in ('caption', 'question'):
            raise ValueError(
                f"CleanCaption: mode must be 'caption' or 'question', got "
                f'{mode!r}')
        self.keys = (keys, ) if isinstance(keys, str) else tuple(keys)
        self.max_words = max_words
        self.mode = mode
        self._fn = pre_caption if mode == 'caption' else pre_question

    def transform(self, results: dict) -> dict:
        """Clean ``results[key]`` in place for every configured key."""
        for key in self.keys:
            if key not in results:
                continue
            value = results[key]
            if isinstance(value, str):
                results[key] = self._fn(value, self.max_words)
            else:
                results[key] = [self._fn(v, self.max_words) for v in value]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(keys={self.keys}, '
                f'max_words={self.max_words}, mode={self.mode!r})')
