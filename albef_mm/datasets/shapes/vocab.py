"""The WordPiece vocabulary of the *Shapes* benchmark and its check."""
from typing import Dict, Iterator, List, Tuple

from .text import VOCAB_WORDS

SPECIAL_TOKENS = ['[PAD]'] + [f'[unused{i}]' for i in range(99)] + [
    '[UNK]', '[CLS]', '[SEP]', '[MASK]']


def build_vocab() -> List[str]:
    """The Shapes WordPiece vocabulary (``[PAD]`` = 0, ``[UNK]`` = 100,
    ``[CLS]`` = 101, ``[SEP]`` = 102, ``[MASK]`` = 103, then the words,
    digits, letters and ``##`` letters so any word can be tokenised)."""
    letters = [chr(c) for c in range(ord('a'), ord('z') + 1)]
    tokens = list(SPECIAL_TOKENS)
    for tok in (list(VOCAB_WORDS) + [str(d) for d in range(10)] + letters +
                ['##' + c for c in letters] + ['##' + str(d)
                                               for d in range(10)]):
        if tok not in tokens:
            tokens.append(tok)
    return tokens


def _texts(files: Dict[str, object]) -> Iterator[Tuple[str, str]]:
    """(file name, text) of every caption, expression, sentence, question
    and answer in the annotation files."""
    for name, records in files.items():
        if not isinstance(records, list):
            continue
        for rec in records:
            if not isinstance(rec, dict):
                yield name, rec
                continue
            for key in ('caption', 'text', 'sentence', 'question', 'answer'):
                value = rec.get(key)
                if isinstance(value, str):
                    yield name, value
                elif isinstance(value, list):
                    yield from ((name, v) for v in value)


def check_vocab(files: Dict[str, object]) -> None:
    """Fail loudly if a template produced a word outside the vocabulary.

    Raises:
        AssertionError: naming the file, the text and the unknown words.
    """
    from ..transforms.text import pre_caption
    vocab = set(build_vocab())
    for name, text in _texts(files):
        unknown = [w for w in pre_caption(text, 100).split() if w not in vocab]
        if unknown:
            raise AssertionError(f'Shapes generator bug: {name} text {text!r} '
                                 f'has words outside the vocab: {unknown}')
