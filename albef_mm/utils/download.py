"""Downloads into a local cache: progress bar, atomic, resumable, verified.

``download(url)`` returns the cached copy of ``url``, fetching it first
when it is not there yet:

* the cache folder is ``~/.cache/albef_mm`` (``$ALBEF_MM_HOME`` moves it),
  one file per URL at ``<cache>/<subdir>/<host>/<path of the URL>``, so two
  URLs with the same file name never share an entry;
* ``$ALBEF_MM_MIRROR`` (a base URL) replaces the host of the ALBEF
  authors' release URLs, e.g. ``http://mirror.local/albef`` fetches
  ``https://storage.googleapis.com/sfr-pcl-data-research/ALBEF/vqa.pth``
  from ``http://mirror.local/albef/sfr-pcl-data-research/ALBEF/vqa.pth``;
  the cache entry stays that of the authors' URL;
* bytes go to ``<entry>.part`` and are renamed to the entry only once
  complete, so an interrupted download is never loaded; a server that
  accepts ranges resumes a ``.part`` file, otherwise it is deleted;
* the SHA-256 is recorded next to the entry (``<entry>.sha256``) on first
  download and checked on every later use; a known hash (``sha256=``) is
  checked on the first download too;
* a failure (offline, host unreachable, HTTP error, cut transfer, wrong
  hash) raises :class:`DownloadError` naming the URL, the cache path where
  the file can be put by hand and the variables to set.
"""
import contextlib
import hashlib
import http.client
import os
import os.path as osp
import re
import shutil
import sys
import urllib.error
import urllib.request
from typing import Optional, Tuple
from urllib.parse import urlsplit

CACHE_ENV = 'ALBEF_MM_HOME'
MIRROR_ENV = 'ALBEF_MM_MIRROR'
# the host of every file the ALBEF authors released
RELEASE_HOST = 'https://storage.googleapis.com'
_CHUNK = 1 << 20
_TIMEOUT_S = 60


class DownloadError(OSError):
    """A file could not be downloaded or failed its hash check."""


def cache_dir() -> str:
    """The cache root: ``$ALBEF_MM_HOME``, else ``~/.cache/albef_mm``
    (``$XDG_CACHE_HOME/albef_mm`` where that is set)."""
    if os.environ.get(CACHE_ENV):
        return osp.abspath(osp.expanduser(os.environ[CACHE_ENV]))
    base = os.environ.get('XDG_CACHE_HOME') or osp.join('~', '.cache')
    return osp.abspath(osp.join(osp.expanduser(base), 'albef_mm'))


def _safe_part(part: str) -> str:
    """A URL path segment as a file name: unusual characters replaced, a
    short hash of the original appended when anything changed (so that
    distinct segments stay distinct)."""
    clean = re.sub(r'[^\w.+-]', '_', part).lstrip('.') or '_'
    if clean != part:
        clean += '-' + hashlib.sha256(part.encode()).hexdigest()[:8]
    return clean


def cache_path(url: str, subdir: str = 'checkpoints') -> str:
    """Where :func:`download` keeps ``url``:
    ``<cache>/<subdir>/<host>/<path segments>`` (a query string, if any,
    becomes a hash suffix of the file name)."""
    parts = urlsplit(url)
    if parts.scheme not in ('http', 'https') or not parts.netloc:
        raise ValueError(f'not an http(s) URL: {url!r}')
    segments = [_safe_part(s) for s in parts.path.split('/') if s]
    if not segments:
        raise ValueError(f'URL {url!r} names no file')
    if parts.query:
        segments[-1] += '-' + hashlib.sha256(
            parts.query.encode()).hexdigest()[:8]
    return osp.join(cache_dir(), subdir, _safe_part(parts.netloc), *segments)


def mirrored(url: str) -> str:
    """``url`` with the authors' host replaced by ``$ALBEF_MM_MIRROR`` (when
    set); other URLs unchanged."""
    mirror = os.environ.get(MIRROR_ENV, '').rstrip('/')
    if mirror and url.startswith(RELEASE_HOST + '/'):
        return mirror + url[len(RELEASE_HOST):]
    return url


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(_CHUNK), b''):
            digest.update(block)
    return digest.hexdigest()


def _hint(url: str, dest: str) -> str:
    return (f'To use the file without downloading, put it by hand at {dest} '
            f'(set {CACHE_ENV} to move the cache folder, now {cache_dir()}); '
            f'to fetch the release files from another server, set '
            f'{MIRROR_ENV} to its base URL (it replaces {RELEASE_HOST}).')


def verify(path: str, sha256: Optional[str] = None, url: str = '') -> str:
    """Check a cached file against its recorded SHA-256 (``<path>.sha256``)
    and against ``sha256`` when given; record the hash when none was.

    Returns:
        The file's SHA-256.
    Raises:
        DownloadError: the file differs from the recorded or given hash.
    """
    actual = file_sha256(path)
    record = path + '.sha256'
    expected, origin = sha256, 'the model zoo'
    if osp.isfile(record):
        with open(record) as f:
            expected, origin = f.read().split()[0], f'{record} (recorded ' \
                'at download)'
    if expected and actual != expected.lower():
        raise DownloadError(
            f'{path} does not match its SHA-256 ({actual}; expected '
            f'{expected} from {origin}): it changed since it was '
            f'downloaded{" from " + url if url else ""}, or is not the '
            'released file. Delete it (and its .sha256 file) to download it '
            'again.')
    if not osp.isfile(record):
        with open(record, 'w') as f:
            f.write(f'{actual}  {osp.basename(path)}\n')
    return actual


@contextlib.contextmanager
def _locked(dest: str):
    """Hold an exclusive lock on ``<dest>.lock`` (distributed ranks or
    parallel jobs fetching the same file wait for the first)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: no locking
        yield
        return
    with open(dest + '.lock', 'a') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _progress(total: Optional[int], initial: int, name: str, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit='B', unit_scale=True,
                unit_divisor=1024, desc=name, file=sys.stderr,
                disable=not enabled, dynamic_ncols=True)


def _fetch(url: str, source: str, dest: str, progress: bool) -> None:
    """Stream ``source`` into ``dest + '.part'`` (resuming it when the
    server allows ranges) and check that every announced byte arrived."""
    part = dest + '.part'
    have = osp.getsize(part) if osp.isfile(part) else 0
    request = urllib.request.Request(source, headers={
        'User-Agent': 'albef_mm', **({'Range': f'bytes={have}-'}
                                     if have else {})})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # stale .part larger than the file
            os.remove(part)
            return _fetch(url, source, dest, progress)
        raise DownloadError(
            f'Downloading {source} failed: the server answered HTTP '
            f'{err.code} {err.reason}. {_hint(url, dest)}') from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, 'reason', err)
        raise DownloadError(
            f'Could not reach {source} ({reason}): offline, or the host is '
            f'unreachable. {_hint(url, dest)}') from err
    with response:
        resumed = have and response.status == 206
        ranges = resumed or response.headers.get(
            'Accept-Ranges', '').lower() == 'bytes'
        length = response.headers.get('Content-Length')
        start = have if resumed else 0
        total = start + int(length) if length is not None else None
        done = start
        print(f'Downloading {source}\n  to {dest}'
              + (f' (resuming at {start} bytes)' if resumed else ''),
              file=sys.stderr, flush=True)
        try:
            with open(part, 'ab' if resumed else 'wb') as out, \
                    _progress(total, start, osp.basename(dest),
                              progress) as bar:
                while True:
                    block = response.read(_CHUNK)
                    if not block:
                        break
                    out.write(block)
                    done += len(block)
                    bar.update(len(block))
            if total is not None and done != total:
                raise ConnectionError(
                    f'the transfer stopped after {done} of {total} bytes')
        except (OSError, http.client.HTTPException) as err:
            # a reset connection, a timeout, IncompleteRead, a short body
            raise _cut(url, source, dest, part, ranges, err) from err


def _cut(url, source, dest, part, keep: bool, err) -> DownloadError:
    if not keep and osp.exists(part):
        os.remove(part)
    kept = (f'the partial file {part} is kept and the next call resumes '
            'it' if keep else 'nothing was kept (the server does not '
            'resume downloads); the next call starts again')
    return DownloadError(f'Downloading {source} was interrupted ({err}): '
                         f'{kept}. {_hint(url, dest)}')


def download(url: str, sha256: Optional[str] = None,
             subdir: str = 'checkpoints',
             progress: bool = True) -> Tuple[str, bool]:
    """The cached copy of ``url``, downloaded first when absent (see the
    module docstring for the cache layout, mirror and guarantees).

    Args:
        url: An ``http(s)://`` URL (the authors' URL for release files:
            the mirror variable applies to those).
        sha256: The file's known SHA-256, checked on the first download
            too; None records it at download and checks it later.
        subdir: Cache sub-folder (``checkpoints``, ``data``).
        progress: Show a progress bar (size, speed, ETA) on stderr.
    Returns:
        ``(path, downloaded)``: the cached file and whether this call
        downloaded it.
    Raises:
        DownloadError: offline / unreachable / HTTP error / interrupted
            transfer / hash mismatch; no incomplete file is left under the
            entry's name.
    """
    dest = cache_path(url, subdir)
    if osp.isfile(dest):
        verify(dest, sha256, url)
        return dest, False
    os.makedirs(osp.dirname(dest), exist_ok=True)
    with _locked(dest):
        if osp.isfile(dest):  # another process finished it meanwhile
            verify(dest, sha256, url)
            return dest, False
        _fetch(url, mirrored(url), dest, progress)
        part = dest + '.part'
        actual = file_sha256(part)
        if sha256 and actual != sha256.lower():
            os.remove(part)
            raise DownloadError(
                f'The file downloaded from {mirrored(url)} has SHA-256 '
                f'{actual}, not the released file\'s {sha256}: it was '
                f'deleted. {_hint(url, dest)}')
        with open(dest + '.sha256', 'w') as f:
            f.write(f'{actual}  {osp.basename(dest)}\n')
        shutil.move(part, dest)
    return dest, True


def discard(path: str) -> None:
    """Remove a cache entry and its recorded hash (a file that was
    refused must not be served from the cache again)."""
    for name in (path, path + '.sha256'):
        if osp.exists(name):
            os.remove(name)
