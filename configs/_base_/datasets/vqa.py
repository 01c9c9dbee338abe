# VQA v2 + Visual Genome QA in ALBEF's json format (data.tar.gz of the
# ALBEF README, or tools/dataset_converters/vqa_to_albef.py):
#   data/vqa/vqa_train.json, vqa_val.json, vg_qa.json, vqa_test.json,
#   data/vqa/answer_list.json
#   data/vqa/coco/  (COCO images: train2014/..., val2014/..., test2015/...)
#   data/vqa/vg/    (Visual Genome images: image/...)
# VQA.py trains on train + val + VG and writes the test-dev/test-std result
# file for the evaluation server (no local accuracy).
data_root = 'data/vqa/'
image_size = 384
data_prefix = dict(vqa='coco/', vg='vg/')
train_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFRandomResizedCrop', size=image_size, scale=(0.5, 1.0)),
    dict(type='ALBEFRandomFlip', prob=0.5),
    dict(type='RandomAugment', N=2, M=7),
    dict(type='PackALBEFInputs',
         algorithm_keys=('text', 'gt_answer', 'gt_answer_weight',
                         'question_id')),
]
test_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=image_size),
    dict(type='PackALBEFInputs',
         algorithm_keys=('text', 'question_id', 'gt_answer', 'question_type',
                         'answer_type')),
]
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'), drop_last=True,
    dataset=dict(type='VQADataset', data_root=data_root,
                 data_prefix=data_prefix,
                 ann_file=['vqa_train.json', 'vqa_val.json', 'vg_qa.json'],
                 max_words=30, pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=16, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='VQADataset', data_root=data_root,
                 data_prefix=data_prefix, ann_file='vqa_test.json',
                 test_mode=True, test_max_words=50, pipeline=test_pipeline))
test_evaluator = dict(type='VQAResultWriter',
                      ann_file=data_root + 'vqa_test.json',
                      out_file='vqa_result.json')  # in the work dir
