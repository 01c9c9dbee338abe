import pytest

from albef_mm.datasets.transforms import (CleanCaption, pre_caption,
                                          pre_question)


@pytest.mark.parametrize('raw, expected', [
    ('A Dog, running!', 'a dog running'),
    # runs of >= 2 whitespace collapse; a single tab is kept
    ('  many    spaces\t\tand\ttabs  \n', 'many spaces and\ttabs'),
    ('well-known/odd', 'well known odd'),
    ("it's \"quoted\" (x) *y* #z: w; ~v? u.", 'its quoted x y z w v u'),
    ('<person> rides a bike', 'person rides a bike'),
    ('<Person> shouts', 'person shouts'),  # lower-cased before replacing
    ('a -- b', 'a b'),
    ('keep & + [brackets] < >', 'keep & + [brackets] < >'),
    ('', ''),
    ('...', ''),
])
def test_pre_caption(raw, expected):
    assert pre_caption(raw) == expected


def test_pre_caption_truncates_words():
    text = ' '.join(f'w{i}' for i in range(40))
    assert pre_caption(text).split() == [f'w{i}' for i in range(30)]
    assert pre_caption(text, max_words=3) == 'w0 w1 w2'


@pytest.mark.parametrize('raw, expected', [
    ('What color is the T-shirt?', 'what color is the t shirt'),
    ('How  many?  ', 'how  many'),  # inner double space kept
    ('Is it a <person>?', 'is it a <person>'),  # no <person> replacement
    ('  Leading space?', '  leading space'),  # only right-stripped
    ('a/b\n', 'a b\n'),  # newline kept, only spaces stripped
])
def test_pre_question(raw, expected):
    assert pre_question(raw, 30) == expected


def test_pre_question_truncation_counts_empty_words():
    # 'a  b' splits into ['a', '', 'b']: the empty word counts.
    assert pre_question('a  b c', 2) == 'a '
    assert pre_question('q ' * 60, 50).split(' ') == ['q'] * 50


def test_clean_caption_transform():
    t = CleanCaption(keys=('text', 'missing'), max_words=2)
    out = t({'text': ['A b C!', 'x-y z']})
    assert out['text'] == ['a b', 'x y']
    q = CleanCaption(mode='question', max_words=5)
    assert q({'text': 'Is it <person>?'})['text'] == 'is it <person>'
    with pytest.raises(ValueError, match='mode'):
        CleanCaption(mode='answer')
