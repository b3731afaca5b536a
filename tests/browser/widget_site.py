"""Two origins for the widget's browser tests: a business's web page embedding the widget with
one script tag (`HostPage`), and `ContractController`, a stand-in for the controller's public
widget API that answers exactly as the contract says (README, "Calls from your website") with
answers a test sets: the visitor's side is tested on its own, state by state.

Both are threads in the pytest process (plain http.server), each on a port of 127.0.0.1: two
ports are two origins to the browser.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import callcenter

WIDGET_JS = Path(callcenter.__file__).parent / "static" / "vendor" / "widget.js"
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
</head><body><h1>{title}</h1><p>Our products.</p>
<script src="{controller}/widget.js" data-widget="{widget}" async></script>
</body></html>"""


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _serve(handler) -> _Server:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class HostPage:
    """The business's site: `url` is a page with the widget's script tag for `widget` at
    `controller` (both may be set after it started: its origin goes into the widget first)."""

    def __init__(self, controller: str = "", widget: str = "", title: str = "Acme shoes") -> None:
        self.controller, self.widget, self.title = controller, widget, title
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                body = PAGE.format(title=site.title, controller=site.controller,
                                   widget=site.widget).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = _serve(Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.url = f"{self.origin}/products?id=7"

    def stop(self) -> None:
        self.server.shutdown()


class ContractController:
    """The widget API for widget `widget`, allowing `allowed` origins; a test sets `settings`,
    `call_answer` (status, body, extra headers) and `status` (the call's), and reads `posts`."""

    def __init__(self, widget: str, ws_url: str, realm: str, allowed: set[str]) -> None:
        self.widget = widget
        self.allowed = allowed
        self.settings = {"name": "Acme support", "video": True, "open": True, "message": None,
                         "fields": [{"name": "name", "label": "Your name", "required": True},
                                    {"name": "topic", "label": "Topic", "required": False}]}
        self.guest = "g" + "5" * 20
        self.password = "pw-" + "7" * 20
        self.call_answer = (201, {
            "call": "tok1",
            "sip": {"ws_url": ws_url, "realm": realm, "user": self.guest,
                    "password": self.password, "uri": f"sip:{self.guest}@{realm}",
                    "target": f"sip:call@{realm}"},
            "ice_servers": [], "max_seconds": 3600,
            "status_url": f"/widget/{widget}/calls/tok1"}, {})
        self.status = {"state": "connecting", "position": None, "waited_seconds": None}
        self.posts: list[dict] = []
        self.refused: list[str] = []          # paths asked for from a disallowed origin
        self.server = _serve(self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status: int, body: dict | None, extra: dict | None = None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                origin = self.headers.get("Origin")
                if origin in api.allowed:
                    self.send_header("Access-Control-Allow-Origin", origin)
                    self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
                    self.send_header("Access-Control-Allow-Headers", "Content-Type")
                    self.send_header("Access-Control-Expose-Headers", "Retry-After")
                self.send_header("Vary", "Origin")
                self.send_header("Content-Type", "application/json")
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def route(self) -> str | None:
                """The widget API path asked for, or None once it answered a refusal."""
                origin = self.headers.get("Origin")
                if origin is not None and origin not in api.allowed:
                    api.refused.append(self.path)
                    self.answer(403, {"error": "origin_refused",
                                      "message": "This site may not use this widget."})
                    return None
                found = re.fullmatch(rf"/widget/{re.escape(api.widget)}/(.+)", self.path)
                if found is None:
                    self.answer(404, {"error": "unknown_widget", "message": "No such widget."})
                    return None
                return found.group(1)

            def do_OPTIONS(self):  # noqa: N802
                if self.route() is not None:
                    self.answer(204, None)

            def do_GET(self):  # noqa: N802
                if self.path == "/widget.js":
                    data = WIDGET_JS.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/javascript")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                path = self.route()
                if path == "settings":
                    self.answer(200, api.settings)
                elif path == "calls/tok1":
                    self.answer(200, api.status)
                elif path is not None:
                    self.answer(404, {"error": "not_found", "message": "No such call."})

            def do_POST(self):  # noqa: N802
                path = self.route()
                if path != "call":
                    return
                length = int(self.headers.get("Content-Length") or 0)
                api.posts.append(json.loads(self.rfile.read(length)))
                status, body, extra = api.call_answer
                self.answer(status, body, extra)

        return Handler
