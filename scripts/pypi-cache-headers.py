#!/usr/bin/env python3
"""pypi-cache-headers.py — PyPI, with the HTTP caching headers PyPI itself sends.

Some networks reach PyPI through a proxy that drops `Cache-Control`, `ETag` and
`Last-Modified` (this build machine's does: `curl -sI` of any files.pythonhosted.org URL
shows none). uv then holds every cached response as stale and cannot revalidate it, so it
downloads again what it already has; two installs that need the same source distribution
at once each build it (the second waits on uv's lock for the first, finds the first's
download "stale", downloads and builds again). On the real PyPI the second reuses the first's
build. bench-install.sh can put this server in front of both tools (PYPI_HEADERS=1) to time
them as they would run against PyPI.

It forwards every request to PyPI unchanged and caches nothing itself, so an empty uv cache
stays empty. It only restores the two headers PyPI documents and sends:
  /simple/<project>/   Cache-Control: max-age=600, public           (pypi.org)
  /files/<path>        Cache-Control: max-age=365000000, immutable, public
                                                          (files.pythonhosted.org)
File URLs inside the index pages (HTML and PEP 691 JSON) are rewritten to /files/ on this
server so the second header reaches uv. Range requests and HEAD are passed through.

Usage: pypi-cache-headers.py PORT_FILE   (binds 127.0.0.1 on a free port, writes
"<port>\\n" to PORT_FILE when it listens, serves until killed)
"""

import functools
import http.client
import http.server
import socket
import socketserver
import sys
import threading
import urllib.parse

INDEX = "https://pypi.org"
FILES = "https://files.pythonhosted.org"
INDEX_CACHE = "max-age=600, public"
FILE_CACHE = "max-age=365000000, immutable, public"
# Request headers worth passing on; everything else (Host, Connection...) is ours.
FORWARDED = ("Accept", "Range", "User-Agent")
# Response headers worth passing back besides the body's length.
RETURNED = ("Content-Type", "Content-Range", "Accept-Ranges")

# Two hosts, looked up once: many lookups at once fail on some resolvers, and uv, which this
# server stands in front of, does not look a host up per request either.
_lookup = functools.lru_cache(maxsize=None)(socket.getaddrinfo)
socket.getaddrinfo = lambda *a, **k: _lookup(*a, **k)

# One kept-alive connection per thread and host, as uv keeps its connections to PyPI: a TLS
# handshake per request would slow every install through this server.
_connections = threading.local()


def fetch(method, url, headers):
    """(status, headers, body) of one request, on this thread's connection to the host."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    for attempt in range(2):
        pool = _connections.__dict__.setdefault("pool", {})
        conn = pool.get(parts.netloc)
        if conn is None:
            conn = pool[parts.netloc] = http.client.HTTPSConnection(parts.netloc, timeout=120)
        try:
            conn.request(method, path, headers=headers)
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            pool.pop(parts.netloc, None)
            if attempt:
                raise


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.forward(send_body=True)

    def do_HEAD(self):
        self.forward(send_body=False)

    def forward(self, send_body):
        if self.path.startswith("/simple/"):
            upstream, cache = INDEX + self.path, INDEX_CACHE
        elif self.path.startswith("/files/"):
            upstream, cache = FILES + self.path[len("/files"):], FILE_CACHE
        else:
            self.send_error(404)
            return
        headers = {k: self.headers[k] for k in FORWARDED if self.headers.get(k)}
        status, got, body = fetch(self.command, upstream, headers)
        if status == 200 and self.path.startswith("/simple/"):
            own = f"http://{self.headers.get('Host')}/files/"
            body = body.replace(FILES.encode() + b"/", own.encode())
        self.send_response(status)
        for name in RETURNED:
            if got.get(name):
                self.send_header(name, got[name])
        if status in (200, 206):
            self.send_header("Cache-Control", cache)
        length = got.get("Content-Length") if not send_body else None
        self.send_header("Content-Length", length or str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, *_):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    server = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as out:
        out.write(f"{server.server_address[1]}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
