# Shapes classification: shape-name and colour classes of the generated
# benchmark. Create the files first with
#   python tools/dataset_converters/generate_shapes.py data/shapes
#   python tools/dataset_converters/shapes_classification.py data/shapes
# (images whose objects share one shape / colour; labels are class names).
# Colour classes by default; the shape-name configs override `ann_file`,
# `classes` (and the evaluator's top-k).
data_root = 'data/shapes/'
cls_dir = 'classification/'
# sorted names, as written to classification/classes_{shape,color}.txt
shape_classes = ['circle', 'cross', 'square', 'triangle']
color_classes = ['blue', 'green', 'orange', 'purple', 'red', 'white',
                 'yellow']

test_pipeline = [
    dict(type='LoadRGBImageFromFile'),
    dict(type='ALBEFResize', size=64),
    dict(type='PackALBEFInputs', algorithm_keys=('gt_label', )),
]
cls_loader = dict(
    batch_size=64, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'))
cls_dataset = dict(type='ClassAnnotationDataset', data_root=data_root,
                   classes=color_classes, pipeline=test_pipeline,
                   test_mode=True,
                   made_by='python tools/dataset_converters/'
                   'shapes_classification.py data/shapes')
test_dataloader = dict(
    **cls_loader, dataset=dict(**cls_dataset,
                               ann_file=cls_dir + 'color_test.txt'))
# top-3 of 7 colours (top-5 of a handful of classes says little)
test_evaluator = dict(type='ClassificationAccuracy', topk=(1, 3))
test_cfg = dict(type='TestLoop')
