"""The download cache against a local HTTP server: success with progress,
404, connection refused, a transfer cut half-way (with and without range
support), a wrong hash, a changed cache file, cache hits without network,
distinct entries for URLs with the same file name, the mirror variable."""
import hashlib
import os
import os.path as osp

import pytest
from local_http import refused_url, serve

from albef_mm.utils import download as dl

BODY = bytes(range(256)) * 4096  # 1 MiB
RELEASE = dl.RELEASE_HOST + '/sfr-pcl-data-research/ALBEF/ALBEF.pth'


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(dl.CACHE_ENV, str(tmp_path / 'cache'))
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)
    return tmp_path / 'cache'


@pytest.fixture
def server():
    with serve() as srv:
        srv.files['/a/ALBEF.pth'] = BODY
        srv.files['/b/ALBEF.pth'] = BODY[::-1]
        yield srv


def leftovers(cache):
    return sorted(osp.relpath(osp.join(d, f), cache)
                  for d, _, files in os.walk(cache) for f in files
                  if not f.endswith('.lock'))


def test_success_with_progress_then_cache_hit(cache, server, capsys):
    url = server.base + '/a/ALBEF.pth'
    path, fetched = dl.download(url)
    assert fetched and path == dl.cache_path(url)
    assert path.startswith(str(cache)) and open(path, 'rb').read() == BODY
    err = capsys.readouterr().err
    assert url in err and path in err
    assert '1.00M/1.00M' in err and 'B/s' in err  # size and speed
    with open(path + '.sha256') as f:
        assert f.read().split()[0] == dl.file_sha256(path)
    server.requests.clear()
    assert dl.download(url) == (path, False)
    assert server.requests == []  # a cache hit does not touch the network


def test_same_file_name_different_urls_do_not_share_an_entry(cache,
                                                             server):
    a, _ = dl.download(server.base + '/a/ALBEF.pth', progress=False)
    b, _ = dl.download(server.base + '/b/ALBEF.pth', progress=False)
    assert a != b
    assert open(a, 'rb').read() == BODY and open(b, 'rb').read() == BODY[
        ::-1]


def test_404_names_url_cache_path_and_variables(cache, server):
    url = server.base + '/missing.pth'
    with pytest.raises(dl.DownloadError) as err:
        dl.download(url, progress=False)
    text = str(err.value)
    assert 'HTTP 404' in text and url in text
    assert dl.cache_path(url) in text
    assert dl.CACHE_ENV in text and dl.MIRROR_ENV in text
    assert leftovers(cache) == []


def test_offline_is_one_clear_error(cache):
    url = refused_url()
    with pytest.raises(dl.DownloadError, match='offline') as err:
        dl.download(url, progress=False)
    assert url in str(err.value) and dl.cache_path(url) in str(err.value)
    assert 'Connection refused' in str(err.value)
    assert leftovers(cache) == []


def test_cut_transfer_without_ranges_leaves_nothing(cache, server):
    url = server.base + '/a/ALBEF.pth'
    server.ranges, server.cut_after = False, len(BODY) // 2
    with pytest.raises(dl.DownloadError, match='interrupted') as err:
        dl.download(url, progress=False)
    assert 'nothing was kept' in str(err.value)
    assert leftovers(cache) == []
    server.cut_after = None
    path, fetched = dl.download(url, progress=False)
    assert fetched and open(path, 'rb').read() == BODY


def test_cut_transfer_with_ranges_resumes(cache, server):
    url = server.base + '/a/ALBEF.pth'
    server.cut_after = len(BODY) // 2
    with pytest.raises(dl.DownloadError, match='resumes'):
        dl.download(url, progress=False)
    entry = dl.cache_path(url)
    assert not osp.exists(entry)  # only the .part, never loaded
    assert osp.getsize(entry + '.part') == len(BODY) // 2
    server.cut_after = None
    server.requests.clear()
    path, fetched = dl.download(url, progress=False)
    assert fetched and open(path, 'rb').read() == BODY
    assert server.requests == [('/a/ALBEF.pth', f'bytes={len(BODY) // 2}-')]
    assert not osp.exists(entry + '.part')


def test_known_hash_is_checked_on_first_download(cache, server):
    url = server.base + '/a/ALBEF.pth'
    with pytest.raises(dl.DownloadError, match='deleted') as err:
        dl.download(url, sha256='0' * 64, progress=False)
    assert sha(BODY) in str(err.value)
    assert leftovers(cache) == []
    path, _ = dl.download(url, sha256=sha(BODY),
                          progress=False)
    assert open(path, 'rb').read() == BODY


def test_changed_cache_file_fails_the_recorded_hash(cache, server):
    url = server.base + '/a/ALBEF.pth'
    path, _ = dl.download(url, progress=False)
    with open(path, 'r+b') as f:
        f.write(b'X')
    server.requests.clear()
    with pytest.raises(dl.DownloadError, match='Delete it') as err:
        dl.download(url, progress=False)
    assert path + '.sha256' in str(err.value)
    assert server.requests == []


def test_file_put_by_hand_is_used_and_recorded(cache, server):
    url = server.base + '/a/ALBEF.pth'
    entry = dl.cache_path(url)
    os.makedirs(osp.dirname(entry))
    with open(entry, 'wb') as f:
        f.write(b'by hand')
    assert dl.download(url) == (entry, False)
    assert server.requests == []
    with open(entry + '.sha256') as f:
        assert f.read().split()[0] == sha(b'by hand')


def test_mirror_replaces_the_authors_host_and_keeps_the_entry(
        cache, server, monkeypatch):
    server.files['/sfr-pcl-data-research/ALBEF/ALBEF.pth'] = BODY
    monkeypatch.setenv(dl.MIRROR_ENV, server.base + '/')
    assert dl.mirrored(RELEASE) == \
        server.base + '/sfr-pcl-data-research/ALBEF/ALBEF.pth'
    assert dl.mirrored(server.base + '/a/x.pth') == server.base + '/a/x.pth'
    path, fetched = dl.download(RELEASE, progress=False)
    assert fetched and path == osp.join(
        str(cache), 'checkpoints', 'storage.googleapis.com',
        'sfr-pcl-data-research', 'ALBEF', 'ALBEF.pth')


def test_cache_path_layout_and_refusals(cache):
    assert dl.cache_path('https://h.org/x/y.pth', 'data') == osp.join(
        str(cache), 'data', 'h.org', 'x', 'y.pth')
    odd = dl.cache_path('https://h.org/../y.pth?v=2')
    assert odd.startswith(osp.join(str(cache), 'checkpoints', 'h.org', ''))
    assert '..' not in odd.split(os.sep)
    assert odd != dl.cache_path('https://h.org/../y.pth?v=3')
    for bad in ('ftp://h.org/y.pth', 'https://h.org/', '/local/y.pth'):
        with pytest.raises(ValueError):
            dl.cache_path(bad)
