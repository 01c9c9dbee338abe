# The paper's 4M row of SNLI-VE (val 80.14 / test 80.30): snli_ve.py from
# the 4M pre-training checkpoint.
#   tools/dist_train.sh configs/albef/snli_ve_4m.py 8
_base_ = ['./snli_ve.py']
load_from = 'checkpoints/ALBEF_4M.pth'
