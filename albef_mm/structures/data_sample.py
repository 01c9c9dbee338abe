"""The one data container passed between pipeline, model and metrics."""
from mmengine.structures import BaseDataElement


class DataSample(BaseDataElement):
    """A sample of any ALBEF task.

    Fields are set freely (``sample.text = 'a dog'``); the conventions below
    are what the project's datasets, models and metrics read and write.

    Metainfo (set with ``set_metainfo``):
        - ``img_path`` (str | list[str]): image file(s); two for NLVR2.
        - ``sample_idx`` (int): index of the sample in its dataset.
        - ``image_id`` (int | str): dataset image id.

    Data fields:
        - ``text`` (str | list[str]): caption / question / expression; a
          list of all captions of an image in retrieval test mode.
        - ``image_idx`` (int): contiguous image index (retrieval ITC
          positives and ITM masking).
        - ``gt_text_idx`` (list[int]): indices of the image's captions in
          the flattened text list (retrieval evaluation).
        - ``gt_image_idx`` (int): index of the caption's image.
        - ``gt_answer`` (list[str]) / ``gt_answer_weight`` (list[float]): VQA.
        - ``gt_label`` (int): NLVR2 / SNLI-VE / text-assignment class.
        - ``gt_bbox`` / ``proposals``: grounding boxes, xywh.
        - ``image_feat`` / ``text_feat`` (Tensor): normalised ITC features
          produced by ``predict``.
        - ``pred_*``: predictions written by the models.

    Example:
        >>> sample = DataSample(metainfo=dict(img_path='a.jpg'))
        >>> sample.text = 'a red circle'
        >>> sample.text
        'a red circle'
    """
