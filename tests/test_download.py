"""Dataset downloads (pooch) against a local HTTP server on 127.0.0.1: a good file is fetched and verified; a corrupted,
a truncated and a missing file each end in one `DatasetError` line and leave nothing behind; a flaky server is
retried."""
import hashlib, http.server, os, threading
from pathlib import Path
import pytest

from n2n.data import DatasetError, _fetch, dataset_dir, registry, verify_dataset

DATA = bytes(range(256)) * 4096                                   # 1 MiB
SHA = hashlib.sha256(DATA).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    hits: dict = {}
    mirror: Path | None = None
    damage = True

    def log_message(self, *a): pass

    def _send(self, body: bytes, length: int | None = None, status: int = 200):
        self.send_response(status)
        self.send_header('Content-Length', str(len(body) if length is None else length)); self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        name = self.path.lstrip('/')
        Handler.hits[name] = Handler.hits.get(name, 0) + 1
        if name == 'good.bin': self._send(DATA)
        elif name == 'corrupt.bin': self._send(DATA[:1000] + bytes([DATA[1000] ^ 1]) + DATA[1001:])
        elif name == 'truncated.bin':                              # announces 1 MiB, sends half, hangs up
            self._send(DATA[:len(DATA) // 2], length=len(DATA)); self.close_connection = True
        elif name == 'flaky.bin':                                  # fails once, then serves the file
            if Handler.hits[name] == 1: self._send(b'busy', status=503)
            else: self._send(DATA)
        elif Handler.mirror is not None and (Handler.mirror / name).is_file():
            body = (Handler.mirror / name).read_bytes()
            if name.endswith('Set12/05.png') and Handler.damage: body = body[:-10] + b'0123456789'   # damaged copy
            self._send(body)
        else: self._send(b'not found', status=404)


@pytest.fixture(scope='module')
def server():
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    yield f'http://127.0.0.1:{srv.server_address[1]}'
    srv.shutdown(); srv.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    "requests honours proxy variables: the local server must be reached directly."
    for k in ('http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv('NO_PROXY', '127.0.0.1,localhost')


def test_good_file_is_fetched_and_verified(server, tmp_path):
    Handler.hits.clear()
    _fetch(f'{server}/good.bin', tmp_path / 'good.bin', SHA)
    assert (tmp_path / 'good.bin').read_bytes() == DATA
    assert sorted(p.name for p in tmp_path.iterdir()) == ['good.bin']          # no temporary file left
    assert Handler.hits == {'good.bin': 1}


@pytest.mark.parametrize('name,msg,tries', [
    ('corrupt.bin', "does not have the manifest's sha256", 2),
    ('truncated.bin', 'could not download', 2),
    ('missing.bin', 'could not download', 2),
])
def test_bad_download_is_one_error_and_leaves_nothing(server, tmp_path, name, msg, tries):
    Handler.hits.clear()
    with pytest.raises(DatasetError) as e: _fetch(f'{server}/{name}', tmp_path / name, SHA, retries=1)
    text = str(e.value)
    assert msg in text and f'{server}/{name}' in text and '\n' not in text, text
    assert list(tmp_path.iterdir()) == []                                     # neither the file nor a temporary one
    assert Handler.hits[name] == tries                                        # tried, then retried once


def test_flaky_server_is_retried(server, tmp_path):
    Handler.hits.clear()
    _fetch(f'{server}/flaky.bin', tmp_path / 'flaky.bin', SHA)
    assert (tmp_path / 'flaky.bin').read_bytes() == DATA and Handler.hits == {'flaky.bin': 2}


def test_dataset_from_an_http_mirror(server, tmp_path):
    "`dataset_dir(download=True, base_url=...)` fills a set from an HTTP mirror; a damaged file there is refused."
    local = os.environ.get('N2N_DATA')
    if not local or verify_dataset('Set12', local): pytest.skip('needs the local benchmark sets (N2N_DATA)')
    Handler.mirror = Path(local)
    try:
        with pytest.raises(DatasetError, match='05.png: the downloaded data does not have'):
            dataset_dir('Set12', tmp_path, download=True, base_url=server, progress=False)
        d = tmp_path / 'Set12'
        assert not (d / '05.png').exists() and not [p for p in d.iterdir() if p.name.startswith(('.', 'tmp'))]
        Handler.damage = False                                                   # the mirror is repaired
        assert dataset_dir('Set12', tmp_path, download=True, base_url=server, progress=False) == d
        assert verify_dataset('Set12', tmp_path) == []
        assert len(registry()['Set12']['files']) == len(list(d.iterdir()))
    finally: Handler.mirror, Handler.damage = None, True
