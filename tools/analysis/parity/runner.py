"""Task detection and dispatch of the parity checks."""
from typing import Iterator, List, Optional, Tuple

from .common import Check, UnsupportedFixture

TASKS = ('pretrain', 'retrieval', 'vqa', 'nlvr', 've')


def detect_task(fixture: dict) -> str:
    """Name the original model a fixture was recorded with, from the keys
    of its state dict."""
    keys = fixture.get('model', {})
    if any(k.startswith('text_decoder') for k in keys):
        return 'vqa'
    if any(k.startswith('cls_head') for k in keys):
        head = [v for k, v in keys.items()
                if k.startswith('cls_head') and k.endswith('weight')]
        return 've' if head and head[-1].shape[0] == 3 else 'nlvr'
    if 'idx_queue' in keys:
        return 'retrieval'
    if any(k.startswith('text_encoder.cls.') for k in keys):
        return 'pretrain'
    raise UnsupportedFixture('cannot tell which ALBEF model recorded this '
                             'fixture')


def run_fixture(fixture: dict, parts: Optional[List[str]] = None,
                task: Optional[str] = None, replay: str = 'inject'
                ) -> Iterator[Tuple[str, List[Check]]]:
    """Yield ``(part, checks)`` of every requested part of the fixture."""
    task = task or detect_task(fixture)
    if task == 'pretrain':
        from . import pretrain
        return pretrain.run(fixture, parts, replay)
    if task == 'retrieval':
        from . import retrieval
        return retrieval.run(fixture, parts, replay)
    if task == 'vqa':
        from . import vqa
        return vqa.run(fixture, parts, replay)
    if task in ('nlvr', 've'):
        from . import nlvr, ve
        return (nlvr if task == 'nlvr' else ve).run(fixture, parts, replay)
    raise UnsupportedFixture(f'task {task!r} is not supported yet '
                             f'(supported: {", ".join(TASKS)})')
