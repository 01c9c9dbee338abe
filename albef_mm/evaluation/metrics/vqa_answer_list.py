"""Warn when a VQA v2 run ranks answers from a list other than ALBEF's
released ``answer_list.json``."""
from typing import List, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from albef_mm.registry import HOOKS

# ALBEF's answer_list.json: the standard 3,129-answer VQA v2 vocabulary
# without its empty answer (ALBEF issue #40)
RELEASED_SIZE = 3128


def answer_list_differences(answers: Sequence[str],
                            expected_size: int = RELEASED_SIZE
                            ) -> List[str]:
    """What tells ``answers`` apart from the released list: its size, an
    empty answer, duplicates (empty when none is found). The released
    file's checksum is not known offline, so a list of the right size is
    not proven to be the released one."""
    found = []
    if len(answers) != expected_size:
        found.append(f'{len(answers)} answers instead of {expected_size}')
    if '' in answers:
        found.append('an empty answer (ALBEF removed it)')
    if len(set(answers)) != len(answers):
        found.append(f'{len(answers) - len(set(answers))} duplicates')
    return found


@HOOKS.register_module()
class VQAReleasedAnswerListHook(Hook):
    """Before training or testing a VQA v2 config, compare the model's
    answer list with ALBEF's released ``answer_list.json`` (3,128 answers,
    no empty one) and log a warning naming the file and the differences
    when it is not that list: the model answers only from this list, so a
    different list (e.g. a top-N recount, about 300 answers apart, ALBEF
    issue #135) gives figures not comparable with the paper's. Logged once
    per answer file.

    Config keys:
        expected_size (int): Size of the released list (3128).
    """

    priority = 'LOW'

    def __init__(self, expected_size: int = RELEASED_SIZE):
        self.expected_size = expected_size
        self.warnings: List[str] = []
        self._done = set()

    def before_train(self, runner) -> None:
        self.check(runner)

    def before_test(self, runner) -> None:
        self.check(runner)

    def check(self, runner) -> Optional[str]:
        """Log (and return) the warning for the model's list, if any."""
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        answers = getattr(model, 'answer_list', None)
        if answers is None:
            return None
        source = getattr(model, 'answer_file', None) or 'model.answer_list'
        if source in self._done:
            return None
        self._done.add(source)
        found = answer_list_differences(answers, self.expected_size)
        if not found:
            return None
        message = (
            f'VQA v2 answer list {source} is not ALBEF\'s released '
            f'answer_list.json: {"; ".join(found)}. The model answers only '
            'from this list, so test-dev / test-std figures are not '
            'comparable with the paper\'s: use the answer_list.json of '
            'ALBEF\'s released data (data.tar.gz), or the standard '
            'recipe (tools/dataset_converters/vqa_to_albef.py answer-list '
            '--annotations ...).')
        runner.logger.warning(message)
        self.warnings.append(message)
        return message
