"""The annotation-file and record checks shared by the datasets
(albef_mm/datasets/utils.py): each error names the file, the record and
the fix."""
import json

import pytest

from albef_mm.datasets.utils import check_image_caption_record, load_json_list


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
