# Weakly supervised grounding on RefCOCO+ (ALBEF Grounding.py /
# Grounding.yaml): retrieval fine-tuning on (expression, image) pairs from a
# pre-trained checkpoint, 5 epochs, lr 1e-5 -> 1e-6 cosine, batch 32 x 8 GPUs;
# ITM Grad-CAM on the 3rd fusion layer ranks the MAttNet proposals; the best
# checkpoint by val_d is kept and, after training, tested on testA / testB
# (as Grounding.py reads the test figures of the best val_d epoch); the log
# names the weights and the split of every test figure.
#   bash tools/dist_train.sh configs/albef/grounding_refcoco+.py 8
#   python tools/test.py configs/albef/grounding_refcoco+.py \
#       checkpoints/refcoco.pth   # the released grounding checkpoint
# ITC Grad-CAM instead: --cfg-options model.gradcam_head.mode=itc
#   model.gradcam_head.layer=8
_base_ = [
    '../_base_/models/albef_retrieval.py',
    '../_base_/datasets/refcoco+_grounding.py',
    '../_base_/schedules/albef_retrieval.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='ALBEFGrounding',
    gradcam_head=dict(type='GradCAMHead', mode='itm', layer=2),
    # Grounding.py: training texts padding='longest', no truncation;
    # evaluation texts padding='longest' (the same settings).
    data_preprocessor=dict(max_length=30, truncation=False,
                           padding='longest'))
load_from = 'checkpoints/ALBEF.pth'  # the 14M pre-training checkpoint

max_epochs = 5
param_scheduler = [
    dict(type='ALBEFStepWarmupCosineLR', warmup_lr=1e-5, min_lr=1e-6,
         warmup_epochs=1, max_epochs=max_epochs, by_epoch=True,
         convert_to_iter_based=True, begin=0, end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=1,
                    save_best='grounding/val_d', rule='greater'))
test_evaluator = dict(type='GroundingAccuracy', baselines=True)
test_after_train = True
