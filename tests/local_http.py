"""A local HTTP server for download tests (127.0.0.1 only, in a thread).

``serve()`` yields a :class:`LocalServer` whose ``files`` maps URL paths
to bytes; ``cut_after`` makes the next responses stop after that many
bytes (the connection is closed, the announced length is the full one),
``ranges`` turns ``Range`` support on and off, and ``requests`` records
``(path, Range header)`` of every request.
"""
import contextlib
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.files: Dict[str, bytes] = {}
        self.cut_after: Optional[int] = None
        self.ranges = True
        self.requests: List[Tuple[str, Optional[str]]] = []

    @property
    def base(self) -> str:
        return f'http://127.0.0.1:{self.server_address[1]}'


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        srv = self.server
        rng = self.headers.get('Range')
        srv.requests.append((self.path, rng))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404, 'Not Found')
            return
        start = 0
        match = re.fullmatch(r'bytes=(\d+)-', rng or '')
        if srv.ranges and match:
            start = int(match.group(1))
            if start >= len(body):
                self.send_error(416, 'Range Not Satisfiable')
                return
            self.send_response(206)
            self.send_header('Content-Range',
                             f'bytes {start}-{len(body) - 1}/{len(body)}')
        else:
            self.send_response(200)
        if srv.ranges:
            self.send_header('Accept-Ranges', 'bytes')
        payload = body[start:]
        self.send_header('Content-Length', str(len(payload)))
        self.end_headers()
        if srv.cut_after is not None and srv.cut_after < len(payload):
            self.wfile.write(payload[:srv.cut_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(payload)


@contextlib.contextmanager
def serve():
    server = LocalServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def refused_url(path: str = '/ALBEF.pth') -> str:
    """A URL on a local port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return f'http://127.0.0.1:{port}{path}'
