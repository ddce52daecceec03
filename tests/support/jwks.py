"""A provider's JWKS endpoint on a local port, for the tests of the token verifier (shared/auth): the keys' public
halves as JWKs, served over real HTTP, optionally failing the next requests (keys unavailable)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt


def public_jwk(key: Any, kid: str, alg: str = "RS256") -> dict[str, Any]:
    """The JWK a provider publishes for ``key`` (an RSA or EC private key)."""
    algorithm = jwt.algorithms.RSAAlgorithm if alg.startswith(("RS", "PS")) else jwt.algorithms.ECAlgorithm
    return algorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": kid, "alg": alg, "use": "sig"}


class JwksServer:
    """``url`` serves ``{"keys": keys}``; ``failing = n`` answers the next n requests with 500."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.failing = 0
        self.requests = 0


@contextmanager
def jwks_server(keys: list[dict[str, Any]], path: str = "/jwks.json") -> Iterator[JwksServer]:
    body = json.dumps({"keys": keys}).encode()
    server: ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            state.requests += 1
            if state.failing > 0:
                state.failing -= 1
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = JwksServer(f"http://127.0.0.1:{server.server_address[1]}{path}")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
