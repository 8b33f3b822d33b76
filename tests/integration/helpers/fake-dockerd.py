#!/usr/bin/python3
"""A stand-in Docker engine on a unix socket, so that the real `docker` CLI
parses an --env-file for us.  It answers /_ping, and refuses every
containers/create with HTTP 400 whose message is the request's Env list,
base64-encoded JSON, and then the whole request (the query string's name and
the body: HostConfig and all): the CLI prints it on stderr, where the test
reads it (in memory; nothing is written to disk)."""
import base64
import json
import os
import socketserver
import sys
from http.server import BaseHTTPRequestHandler

API = "1.43"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Api-Version", API)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.reply(200, "OK", "text/plain")

    def do_GET(self):
        if self.path.endswith("/_ping"):
            return self.reply(200, "OK", "text/plain")
        self.reply(404, json.dumps({"message": "not here"}))

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if "/containers/create" in self.path:
            req = json.loads(body or b"{}")
            env = req.get("Env") or []
            req["_path"] = self.path
            msg = ("HAROMBE-ENV " + base64.b64encode(json.dumps(env).encode()).decode() +
                   " HAROMBE-CREATE " + base64.b64encode(json.dumps(req).encode()).decode())
            return self.reply(400, json.dumps({"message": msg}))
        self.reply(404, json.dumps({"message": "not here"}))

    # a request without a length that the CLI may stream
    def address_string(self):
        return "unix"


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if __name__ == "__main__":
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    with Server(path, Handler) as s:
        print("ready", flush=True)
        s.serve_forever()
