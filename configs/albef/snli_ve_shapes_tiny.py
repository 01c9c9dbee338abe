# SNLI-VE-style fine-tuning of the tiny Shapes model (the embedded
# default's checkpoint) on the generated Shapes ve_{train,dev,test}.json;
# best checkpoint by dev accuracy, tested on the test split after training
# (the log names the weights and split of every test figure).
#   python tools/train.py configs/albef/snli_ve_shapes_tiny.py
#   python tools/test.py configs/albef/snli_ve_shapes_tiny.py \
#       work_dirs/snli_ve_shapes_tiny/best_accuracy_acc_epoch_N.pth
_base_ = [
    '../_base_/models/albef_snli_ve.py',
    '../_base_/datasets/snli_ve.py',
    '../_base_/shapes_tiny_finetune.py',
]
model = dict(_base_.tiny_encoders,
             cls_head=dict(in_channels=_base_.tiny_width))

data_root = _base_.shapes_root
train_pipeline = _base_.shapes_label_train_pipeline
test_pipeline = _base_.shapes_label_test_pipeline
_shapes = dict(data_root=data_root, data_prefix=dict(img_path='images'))
train_dataloader = dict(**_base_.shapes_train_loader,
                        dataset=dict(**_shapes, pipeline=train_pipeline))
val_dataloader = dict(**_base_.shapes_eval_loader,
                      dataset=dict(**_shapes, pipeline=test_pipeline))
# the dataset base's test split, loaded as the val split is
test_dataloader = val_dataloader

max_epochs = 4
optim_wrapper = dict(optimizer=dict(lr=2e-4))
param_scheduler = [dict(_base_.shapes_cosine_lr, warmup_lr=1e-4, min_lr=2e-5,
                        max_epochs=max_epochs, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=1, save_best='accuracy/acc',
                                     rule='greater'))
test_after_train = True
