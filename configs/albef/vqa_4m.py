# The paper's 4M row of VQA v2 (test-dev 74.54 / test-std 74.70): vqa.py
# from the 4M pre-training checkpoint.
#   tools/dist_train.sh configs/albef/vqa_4m.py 8
_base_ = ['./vqa.py']
model = dict(init_from_pretrain='checkpoints/ALBEF_4M.pth')
