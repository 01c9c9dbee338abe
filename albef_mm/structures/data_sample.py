"""The one data container passed between pipeline, model and metrics."""
from mmengine.structures import BaseDataElement


class DataSample(BaseDataElement):
    """A sample of any ALBEF task.

    Fields are set freely (``sample.text = 'a dog'``). Below: the fields the
    project writes, and who writes them. A task that adds a field lists it
    here.

    Metainfo (``PackALBEFInputs``, from the dataset record and the
    pipeline; its ``meta_keys``):
        - ``img_path`` (str | list[str]): image file(s); two for NLVR2.
        - ``sample_idx`` (int): index of the sample in its dataset.
        - ``image_id`` (int | str): dataset image id, where the record has
          one.
        - ``ori_shape`` / ``img_shape`` (tuple): image size as loaded /
          after the geometric transforms; ``scale_factor`` (resize) and
          ``flip`` (bool), where those transforms ran.

    Inputs (``PackALBEFInputs``: the record keys a config lists in
    ``algorithm_keys``):
        - ``text`` (str | list[str]): caption / question / expression /
          hypothesis; in retrieval test mode the list of all captions of the
          image.
        - ``image_idx`` (int): contiguous image index (retrieval: ITC
          positives share it; ITM negatives never do).
        - ``gt_label`` (int): class (SNLI-VE, NLVR2, image classification).
        - ``gt_answer`` (list[str]), ``gt_answer_weight`` (list[float]),
          ``question_id``, ``question_type``, ``answer_type``: VQA.
        - ``ref_id``, ``gt_bbox`` (xywh), ``proposals`` (list of xywh),
          ``ref_split``, ``gt_image_size``: grounding.

    Predictions (the models' ``predict``):
        - ``image_feat`` / ``text_feat`` (Tensor ``[D]``): normalised ITC
          features, ``itc_sim`` (their cosine) and ``itm_score`` (ITM match
          probability) of each (image, text) pair: pre-training and
          retrieval models. Retrieval *evaluation* does not go through
          ``predict``: its loops hand score matrices to the metric.
        - ``pred_label`` (int) / ``pred_score`` (Tensor ``[C]``):
          classifiers (SNLI-VE, zero-shot classification).
        - ``pred_answer`` (str), ``pred_answers`` (list[str]),
          ``pred_scores``: VQA (best answer, top-k, their scores).
        - ``pred_heatmap`` (Tensor ``[h, w]``), ``pred_token_heatmaps``:
          grounding (Grad-CAM).

    Example:
        >>> sample = DataSample(metainfo=dict(img_path='a.jpg'))
        >>> sample.text = 'a red circle'
        >>> sample.text
        'a red circle'
    """
