"""Runs moto's S3 server for the tests with one request handled at a time.

moto checks `If-None-Match: *` / `If-Match` and then writes, in two steps, on a threaded
server: two runs racing for a state lock can both be told they created it, which real S3 (where
the condition and the write are one step) never does. Handling each request under one lock
makes moto's conditional writes atomic as S3's are; connections are still served by threads,
so a client keeping its connection open blocks nobody.

Usage: python moto-serial.py HOST PORT
"""

import os
import sys
import threading

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def serialised(app):
    """The WSGI app `app`, one request at a time (the whole body is produced under the lock)."""
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    return handle


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, serialised(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
