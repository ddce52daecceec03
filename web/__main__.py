"""python -m web: serve the web app (SKOLIT_WEB_PORT, default 3000)."""

from __future__ import annotations

import logging
import os

import uvicorn

from shared.http.server import protocol_with_head_limit
from shared.limits import Limits
from shared.production import WEB, enforce
from web.app import create_app
from web.settings import WebSettings


def main() -> None:
    # First: in production (SKOLIT_ENV), refuse to start on development settings, naming each (shared/production.py)
    enforce(WEB)
    settings = WebSettings.from_env()
    logging.basicConfig(level=os.environ.get("SKOLIT_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s web %(message)s")
    uvicorn.run(create_app(settings), host=os.environ.get("SKOLIT_WEB_HOST", "127.0.0.1"), port=settings.port,
                proxy_headers=True, access_log=False, log_level="warning",
                # the services' server protocol (shared/http/server.py): a request head past 64 KiB is refused
                http=protocol_with_head_limit(Limits().head_buffer_bytes))


if __name__ == "__main__":
    main()
