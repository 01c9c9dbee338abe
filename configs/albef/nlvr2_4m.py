# The paper's 4M row of NLVR2 (dev 80.24 / test-P 80.50): nlvr2.py from the
# text-assignment checkpoint of the 4M model (no such file was released).
#   tools/dist_train.sh configs/albef/nlvr2_ta_pretrain_4m.py 8
#   tools/dist_train.sh configs/albef/nlvr2_4m.py 8
_base_ = ['./nlvr2.py']
load_from = 'work_dirs/nlvr2_ta_pretrain_4m/epoch_1.pth'
