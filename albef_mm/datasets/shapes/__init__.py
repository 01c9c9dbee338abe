"""*Shapes*: a small generated benchmark in the formats of ALBEF's datasets.

Images show 1-3 coloured shapes (7 colours, 4 shapes, 2 sizes, 5 slots) on
a noisy background. All texts are built from the scene, so they are true
(or false on purpose, with the label saying so) and use a vocabulary of a
few hundred WordPiece tokens. The annotation files use the json layouts of
ALBEF's real datasets (pre-training captions, COCO / Flickr30K retrieval,
RefCOCO+, VQA v2, NLVR2, SNLI-VE), with paths relative to ``out_dir``::

    out_dir/
      images/shapes_000000.jpg ...   RGB JPEG (quality 95, no chroma
                                     subsampling), image_id = the number
      pretrain.json                  [{image, caption: str | list[str]}]
      retrieval_train.json           [{image, caption, image_id}] per caption
      retrieval_{val,test}.json      [{image, caption: [5 str], image_id}]
      grounding_train.json           [{image, text}]  (RefCOCO+ style:
                                     appearance words only, no locations)
      grounding_{val,test}.json      [{image, text, ref_id}]
      dets.json                      {str(image_id): [[x, y, w, h], ...]}
                                     true boxes + 2 random distractors
      refs.json                      {str(ref_id): {image_id, bbox (xywh),
                                     split: train|val|testA|testB, height,
                                     width, file_name}}; replaces the REFER
                                     API pickle refs(unc).p + instances.json
      vqa_train.json                 [{question_id, question, answer: [10],
                                     image, dataset: 'vqa'}]
      vqa_val.json                   same, for local accuracy
      vqa_test.json                  [{question_id, question, image, dataset}]
      answer_list.json               [answer, ...]
      nlvr_{train,dev,test}.json     [{images: [p0, p1], sentence,
                                     label: 'True' | 'False'}] (balanced)
      ve_{train,dev,test}.json       [{image: id without extension, sentence,
                                     label}]; file = images/<id>.jpg; one
                                     hypothesis per label per image
      scenes.json                    [{image, image_id, split, objects}]
                                     (ground truth, for analysis)
      vocab.txt                      WordPiece vocab, bert-base-uncased
                                     special ids ([UNK]=100 ... [MASK]=103)
      shapes_meta.json               generator arguments and file list

Splits use disjoint images: ``num_train`` for every train file (and
pre-training), ``num_val`` for val/dev files, ``num_test`` for test files;
``num_pretrain_extra`` more images (split ``pretrain``, numbered after the
test split) appear only in ``pretrain.json`` and ``scenes.json``.

Modules: :mod:`.scene` (sampling and drawing a scene), :mod:`.text`
(captions, expressions, questions, statements, hypotheses), :mod:`.formats`
(one record builder per annotation format), :mod:`.vocab` (the WordPiece
vocabulary) and :mod:`.generator` (:func:`generate_shapes`, which writes
everything).
"""
from .generator import generate_shapes
from .scene import render_scene, sample_scene
from .vocab import build_vocab

__all__ = ['generate_shapes', 'build_vocab', 'sample_scene', 'render_scene']
