# Fine-tune ALBEF on Flickr30K (Retrieval_flickr.yaml): 8 GPUs x 32,
# 10 epochs, lr 1e-5 -> 1e-6, 384 px, k_test 128.
#   tools/dist_train.sh configs/albef/retrieval_flickr30k.py 8
# load_from: a pre-training checkpoint, original (ALBEF.pth / ALBEF_4M.pth)
# or albef_mm format; position embeddings are interpolated 256 -> 384 px.
_base_ = [
    '../_base_/models/albef_retrieval.py',
    '../_base_/datasets/flickr30k_retrieval.py',
    '../_base_/schedules/albef_retrieval.py',
    '../_base_/default_runtime.py',
]
load_from = 'checkpoints/ALBEF.pth'
# keep the checkpoint with the best val r_mean (as Retrieval.py)
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=1,
                    save_best='retrieval/r_mean', rule='greater'))
test_after_train = True
