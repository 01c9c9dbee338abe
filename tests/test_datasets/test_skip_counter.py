"""The skipped-sample counter shared by a dataset's worker processes."""
import copy
import pickle

from albef_mm.datasets.skip_counter import SharedCounter


def test_skip_counter_copies_keep_the_count():
    counter = SharedCounter(2)
    counter.increment(3)
    twin = copy.deepcopy(counter)
    saved = pickle.loads(pickle.dumps(counter))
    assert (twin.value, saved.value) == (5, 5)
    twin.increment()  # private copies: the original is not touched
    saved.increment(2)
    assert (counter.value, twin.value, saved.value) == (5, 6, 7)
