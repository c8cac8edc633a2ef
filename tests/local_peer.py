"""What the local network peers (MPS, Vipps, Maventa) share: an HTTP server on a free loopback port, in a thread,
started and stopped by the test, with a quiet log. Each peer answers its requests in its own ``_serve``."""

import http.server
import random
import sys
import threading


class PeerServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, peer, handler):
        super().__init__(("127.0.0.1", 0), handler)
        self.peer = peer

    def handle_error(self, request, client_address):
        """The default prints a traceback on stderr. Clients that give up (timeouts) close their socket: nothing
        to report; anything else is kept for the tests in the peer's ``errors``."""
        error = sys.exc_info()[1]
        if not isinstance(error, (BrokenPipeError, ConnectionResetError)):
            self.peer.errors.append(f"handler error: {error!r}")


class PeerHandler(http.server.BaseHTTPRequestHandler):
    """Hands every request to the peer's ``_serve(handler)``."""

    def log_message(self, format, *args):  # the signature of BaseHTTPRequestHandler
        """Silent: the test log must stay free of request lines."""

    def _serve(self):
        self.server.peer._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class LocalPeer:
    """A peer's life cycle. Use as a context manager, or call :meth:`start` and :meth:`stop`. Subclasses set
    ``handler`` (a ``PeerHandler``) and ``thread_name``, call ``super().__init__()`` and implement ``_serve``."""

    handler = PeerHandler
    thread_name = "peer"

    def __init__(self):
        self._lock = threading.RLock()
        self._release = threading.Event()  # set on stop: held answers ("hang" faults) go out at once
        self._server = None
        self._thread = None
        self.errors = []
        self.chaos_rate = 0.0
        self._rng = random.Random(0)

    def start(self):
        self._release.clear()
        self._server = PeerServer(self, self.handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def set_chaos(self, rate, seed=0):
        """Fail ``rate`` of all calls at random: half with a server error before doing anything, half by doing
        the work and losing the answer (the ambiguous case)."""
        with self._lock:
            self.chaos_rate = rate
            self._rng = random.Random(seed)

    @property
    def duplicate_count(self):
        return len(self.duplicates)
