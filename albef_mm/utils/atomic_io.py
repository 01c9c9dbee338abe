"""Crash-safe file writes: checkpoints, result files, galleries, figures.

A file is written under a temporary name in its own directory, flushed to
disk (``fsync``) and then renamed over the final name with ``os.replace``,
which is atomic on POSIX and Windows file systems. A process killed at any
moment (``kill -9``, power loss after the rename) leaves either the old
file or the complete new one under the final name, never a truncated one;
what a killed write leaves behind is a temporary file whose name starts
with ``.`` and contains ``.tmp-`` (:func:`remove_stale_temporaries`
deletes those).
"""
import glob
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator

TMP_MARK = '.tmp-'


def temporary_name(path: str) -> str:
    """The hidden temporary name ``path``'s content is written under first:
    same directory (a rename across file systems is not atomic), the
    process id so that two writers do not share it."""
    folder, name = osp.split(osp.abspath(path))
    return osp.join(folder, f'.{name}{TMP_MARK}{os.getpid()}')


def fsync_directory(folder: str) -> None:
    """Flush a directory entry (the rename) to disk where the OS allows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems without dir fsync
        pass
    finally:
        os.close(fd)


def commit(tmp_path: str, path: str) -> None:
    """Flush ``tmp_path`` to disk and rename it to ``path`` atomically."""
    with open(tmp_path, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)
    fsync_directory(osp.dirname(osp.abspath(path)))


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Context manager that yields a temporary path to write ``path``'s
    content to; on a normal exit the file is committed (:func:`commit`),
    on an exception the temporary file is removed and ``path`` is left as
    it was.

    Example::

        with atomic_path('epoch_3.pth') as tmp:
            torch.save(checkpoint, tmp)
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, 'w') as f:
            f.write(text)


def atomic_torch_save(obj, path: str) -> None:
    """``torch.save(obj, path)``, atomically."""
    import torch
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def remove_stale_temporaries(folder: str) -> list:
    """Delete the temporary files that killed writes of *this* module left
    in ``folder`` (names ``.NAME.tmp-PID`` whose process is gone); returns
    their paths."""
    removed = []
    for tmp in glob.glob(osp.join(glob.escape(folder), f'.*{TMP_MARK}*')):
        pid = tmp.rsplit(TMP_MARK, 1)[-1]
        if not pid.isdigit() or (int(pid) != os.getpid()
                                 and _process_alive(int(pid))):
            continue  # not ours, or another live writer's
        try:
            os.remove(tmp)
            removed.append(tmp)
        except OSError:  # pragma: no cover - raced with another cleaner
            pass
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process
        return True
    return True
