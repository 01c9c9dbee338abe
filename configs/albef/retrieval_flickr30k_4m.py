# The paper's 4M row of Flickr30K retrieval (TR@1 94.3 / IR@1 82.8):
# retrieval_flickr30k.py from the 4M pre-training checkpoint.
#   tools/dist_train.sh configs/albef/retrieval_flickr30k_4m.py 8
_base_ = ['./retrieval_flickr30k.py']
load_from = 'checkpoints/ALBEF_4M.pth'
