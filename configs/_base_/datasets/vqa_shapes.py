# Shapes VQA (generated: python tools/dataset_converters/generate_shapes.py
# data/shapes): vqa_{train,val,test}.json with ten "human" answers per
# train/val question, answer_list.json. Images are 64 px.
data_root = 'data/shapes/'
image_size = 64
data_prefix = dict(vqa='', vg='')
train_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    # mild crops, no flip (questions say left / right), no colour-destroying
    # AutoContrast (questions ask for colours)
    dict(type='ALBEFRandomResizedCrop', size=image_size, scale=(0.8, 1.0)),
    dict(type='RandomAugment', N=2, M=7, legacy_autocontrast=False),
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
    batch_size=32, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'), drop_last=True,
    dataset=dict(type='VQADataset', data_root=data_root,
                 data_prefix=data_prefix, ann_file='vqa_train.json',
                 pipeline=train_pipeline))
_eval_loader = dict(
    batch_size=64, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(
    **_eval_loader,
    dataset=dict(type='VQADataset', data_root=data_root,
                 data_prefix=data_prefix, ann_file='vqa_val.json',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = dict(
    **_eval_loader,
    dataset=dict(type='VQADataset', data_root=data_root,
                 data_prefix=data_prefix, ann_file='vqa_test.json',
                 test_mode=True, pipeline=test_pipeline))
# Shapes records have no official question_type: the first two words
# ("what color", "how many", "is there", ...) serve as the type.
val_evaluator = dict(type='VQAAccuracy', question_type_words=2,
                     baseline_ann_file=data_root + 'vqa_train.json')
test_evaluator = dict(type='VQAResultWriter',
                      ann_file=data_root + 'vqa_test.json',
                      out_file='vqa_test_result.json')  # in the work dir
val_cfg = dict(type='ValLoop')
