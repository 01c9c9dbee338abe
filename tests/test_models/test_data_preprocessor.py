"""ALBEFDataPreprocessor's tokenisation: the pre-training defaults and the
per-call arguments that override them."""
from albef_mm.models.data_preprocessor import ALBEFDataPreprocessor
from helpers.tiny import TINY_VOCAB


def _preprocessor(**kw):
    return ALBEFDataPreprocessor(
        tokenizer=dict(type='ALBEFTokenizer', name_or_path=TINY_VOCAB), **kw)


def test_preprocessor_defaults_are_the_pretraining_tokenisation():
    pre = ALBEFDataPreprocessor()
    assert (pre.max_length, pre.truncation, pre.padding) == (25, True,
                                                             'longest')


def test_tokenize_arguments_override_the_preprocessor_defaults():
    # 40 words: [CLS] + 40 tokens (ALBEF's single texts have no [SEP])
    long_text = ' '.join(['red circle'] * 20)
    pre = _preprocessor(max_length=25, truncation=False)
    assert pre.tokenize(long_text)['text_ids'].shape == (1, 41)
    out = pre.tokenize(long_text, max_length=6, truncation=True)
    assert out['text_ids'].shape == (1, 6)
    pre = _preprocessor(max_length=25, truncation=True)
    assert pre.tokenize(long_text)['text_ids'].shape == (1, 25)
    assert pre.tokenize(long_text, truncation=False)['text_ids'].shape == (
        1, 41)
    padded = pre.tokenize('red', max_length=7, padding='max_length')
    assert padded['text_ids'].shape == (1, 7)
    assert padded['text_mask'].tolist() == [[1, 1, 0, 0, 0, 0, 0]]


def test_max_length_padding_without_truncation_pads_to_the_longest():
    pre = _preprocessor(max_length=25, truncation=False)
    out = pre.tokenize(['red circle blue square', 'red'], max_length=3,
                       padding='max_length', truncation=False)
    assert out['text_mask'].tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    out = pre.tokenizer(['red', 'red circle'], padding=True)  # 'longest'
    assert out['attention_mask'].tolist() == [[1, 1, 0], [1, 1, 1]]
