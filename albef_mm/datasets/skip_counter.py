"""A counter shared between a dataset and its DataLoader worker processes."""
import multiprocessing as mp
from multiprocessing import context as mp_context


class SharedCounter:
    """An integer that DataLoader workers can increment and the main process
    can read (backed by ``multiprocessing.Value``).

    Workers receive it when they are started (fork, spawn or forkserver), so
    counts made inside workers are visible to the main process (e.g. to a
    hook that reports skipped samples). Pickled any other way (deepcopy,
    saving) it degrades to a private copy holding the current value.

    Args:
        value (int): Initial value. Defaults to 0.
    """

    def __init__(self, value: int = 0) -> None:
        self._shared = self._new(value)

    @staticmethod
    def _new(value: int):
        # A lock made in a 'spawn' context can be handed to workers started
        # by fork, spawn or forkserver; one made by 'fork' only to fork.
        return mp.get_context('spawn').Value('q', int(value))

    @property
    def value(self) -> int:
        """The current count."""
        return int(self._shared.value)

    def increment(self, n: int = 1) -> int:
        """Add ``n`` and return the new value."""
        with self._shared.get_lock():
            self._shared.value += n
            return int(self._shared.value)

    def reset(self) -> None:
        """Set the count to 0."""
        with self._shared.get_lock():
            self._shared.value = 0

    def __getstate__(self) -> dict:
        if mp_context.get_spawning_popen() is not None:
            return {'shared': self._shared}
        return {'value': self.value}

    def __setstate__(self, state: dict) -> None:
        if 'shared' in state:
            self._shared = state['shared']
        else:
            self._shared = self._new(state['value'])

    def __deepcopy__(self, memo: dict) -> 'SharedCounter':
        return SharedCounter(self.value)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.value})'
