# The paper's 4M row of COCO retrieval (TR@1 73.1 / IR@1 56.8):
# retrieval_coco.py from the 4M pre-training checkpoint.
#   tools/dist_train.sh configs/albef/retrieval_coco_4m.py 8
# Its best checkpoint also gives the 4M zero-shot Flickr30K row:
#   python tools/test.py configs/albef/retrieval_flickr30k_zeroshot.py \
#       work_dirs/retrieval_coco_4m/best_retrieval_r_mean_epoch_N.pth
_base_ = ['./retrieval_coco.py']
load_from = 'checkpoints/ALBEF_4M.pth'
