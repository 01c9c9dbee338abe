# The paper's *zero-shot Flickr30K* protocol: the COCO-fine-tuned model
# (e.g. the released mscoco.pth, or your retrieval_coco.py result)
# evaluated on the Flickr30K test split with the Flickr settings (384 px,
# k_test 128). Evaluation only:
#   python tools/test.py configs/albef/retrieval_flickr30k_zeroshot.py checkpoints/mscoco.pth
# Not to be confused with retrieval_flickr30k_pretrained_256px.py.
_base_ = [
    '../_base_/models/albef_retrieval.py',
    '../_base_/datasets/flickr30k_retrieval.py',
    '../_base_/default_runtime.py',
]
train_dataloader = None
val_dataloader = None
val_evaluator = None
val_cfg = None
