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

import http.server
import socketserver
import sys
import urllib.error
import urllib.request

INDEX = "https://pypi.org"
FILES = "https://files.pythonhosted.org"
INDEX_CACHE = "max-age=600, public"
FILE_CACHE = "max-age=365000000, immutable, public"
# Request headers worth passing on; everything else (Host, Connection...) is ours.
FORWARDED = ("Accept", "Range", "User-Agent")
# Response headers worth passing back besides the body's length.
RETURNED = ("Content-Type", "Content-Range", "Accept-Ranges")


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
        request = urllib.request.Request(upstream, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, got, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            status, got, body = e.code, e.headers, e.read()
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
