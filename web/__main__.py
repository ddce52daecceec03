"""python -m web: serve the web app (SKOLIT_WEB_PORT, default 3000)."""

from __future__ import annotations

import logging
import os

import uvicorn

from shared.production import WEB, enforce
from web.app import create_app
from web.settings import WebSettings


def main() -> None:
    # First: in production (SKOLIT_ENV), refuse to start on development settings, naming each (shared/production.py)
    enforce(WEB)
    settings = WebSettings.from_env()
    logging.basicConfig(level=os.environ.get("SKOLIT_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s web %(message)s")
    uvicorn.run(create_app(settings), host=os.environ.get("SKOLIT_WEB_HOST", "127.0.0.1"), port=settings.port,
                proxy_headers=True, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
