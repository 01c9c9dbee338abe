# COCO Karpathy splits (113k train incl. restval, 5k val, 5k test) in
# ALBEF's format (data.tar.gz of the ALBEF README, or
# tools/dataset_converters/karpathy_to_albef.py):
#   data/coco/coco_{train,val,test}.json, data/coco/{train2014,val2014}/
# Same pipelines as Flickr30K; only the files and k_test (256) differ.
_base_ = ['./flickr30k_retrieval.py']
data_root = 'data/coco/'
train_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='coco_train.json'))
val_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='coco_val.json'))
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='coco_test.json'))
val_cfg = dict(k_test=256)
test_cfg = dict(k_test=256)
