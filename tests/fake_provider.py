"""A messaging provider's API on loopback (WhatsApp/Meta Graph, Twilio, Telegram…): records
every request we make and answers with what the test queued, or a default answer; serves
media files for download tests (an oversized one, one of the wrong type…)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any, dict[str, str]]  # status, body (dict → JSON, bytes as is), headers


@dataclass
class Recorded:
    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def form(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass
class FakeProvider:
    default: Callable[[Recorded], Answer] = lambda request: (200, {}, {})
    requests: list[Recorded] = field(default_factory=list)
    _queued: dict[str, list[Answer]] = field(default_factory=dict)
    _files: dict[str, Answer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Recorded(
                    self.command,
                    parts.path,
                    urllib.parse.parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                status, body, headers = fake.answer(request)
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                if "Content-Type" not in headers:
                    self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, request: Recorded) -> Answer:
        if request.method == "GET" and request.path in self._files:
            return self._files[request.path]
        self.requests.append(request)
        for prefix, answers in self._queued.items():
            if request.path.startswith(prefix) and answers:
                return answers.pop(0)
        return self.default(request)

    def queue(
        self, path_prefix: str, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        """The next request whose path starts with `path_prefix` gets this answer."""
        self._queued.setdefault(path_prefix, []).append((status, body, headers or {}))

    def serve(self, path: str, content: bytes, content_type: str, status: int = 200) -> str:
        """Serve a file at `path` (GET); returns its URL."""
        self._files[path] = (status, content, {"Content-Type": content_type})
        return self.url + path

    def calls(self, path_prefix: str = "", method: str = "") -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.path.startswith(path_prefix) and (not method or r.method == method)
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
