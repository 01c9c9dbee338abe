# Text-assignment pre-training of the 4M model (nlvr2_ta_pretrain.py from
# the 4M pre-training checkpoint); its result starts nlvr2_4m.py.
#   tools/dist_train.sh configs/albef/nlvr2_ta_pretrain_4m.py 8
_base_ = ['./nlvr2_ta_pretrain.py']
load_from = 'checkpoints/ALBEF_4M.pth'
