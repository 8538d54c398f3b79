#!/usr/bin/env python3
"""Local HTTP server for bench/chaos (stdlib only).

Binds 127.0.0.1 on a free port and prints it on the first line of stdout. Answers every request
200 "ok" after a random delay, counting requests by their Idempotency-Key when they arrive.
Control paths:
  GET /__delay?min=MS&max=MS   sets the delay range (0 0: answer at once)
  GET /__counts?prefix=P       the counts of the keys starting with P, as JSON
"""

import json
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
COUNTS = {}
DELAY = [0, 0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body, status=200):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/__delay":
            with LOCK:
                DELAY[0] = int(query.get("min", ["0"])[0])
                DELAY[1] = max(DELAY[0], int(query.get("max", ["0"])[0]))
            return self.answer("delay %d-%d ms\n" % tuple(DELAY))
        if url.path == "/__counts":
            prefix = query.get("prefix", [""])[0]
            with LOCK:
                counts = {k: n for k, n in COUNTS.items() if k.startswith(prefix)}
            return self.answer(json.dumps(counts))
        key = self.headers.get("Idempotency-Key", "<none>")
        with LOCK:
            COUNTS[key] = COUNTS.get(key, 0) + 1
            low, high = DELAY
        if high > 0:
            time.sleep(random.uniform(low, high) / 1000.0)
        try:
            self.answer("ok")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the tick was killed while we waited

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
