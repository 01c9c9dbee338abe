"""Tests written for the survivors of the fifth mutation batch (pkg5) on
the dataset helpers: annotation-file and record checks, and the skip
counter's copies."""
import copy
import json
import pickle

import pytest

from albef_mm.datasets.skip_counter import SharedCounter
from albef_mm.datasets.utils import (check_image_caption_record,
                                     load_json_list)


def test_annotation_file_must_hold_a_list(tmp_path):
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({'image': 'a.jpg', 'caption': 'x'}))
    with pytest.raises(ValueError,
                       match=r'ann\.json must hold a json list of records, '
                       'got dict'):
        load_json_list(str(path))


def test_record_needs_a_caption_and_a_non_empty_image():
    with pytest.raises(KeyError, match=r'f\.json\[3\]: missing key '
                       '"caption"'):
        check_image_caption_record({'image': 'a.jpg'}, 'f.json[3]')
    with pytest.raises(ValueError, match=r'f\.json\[4\]: "image" must be a '
                       "non-empty path string, got ''"):
        check_image_caption_record({'image': '', 'caption': 'x'},
                                   'f.json[4]')
    check_image_caption_record({'image': 'a.jpg', 'caption': ''}, 'ok')


def test_skip_counter_copies_keep_the_count():
    counter = SharedCounter(2)
    counter.increment(3)
    twin = copy.deepcopy(counter)
    saved = pickle.loads(pickle.dumps(counter))
    assert (twin.value, saved.value) == (5, 5)
    twin.increment()  # private copies: the original is not touched
    saved.increment(2)
    assert (counter.value, twin.value, saved.value) == (5, 6, 7)
