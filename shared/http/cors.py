"""Cross-origin calls from the web app and other browser clients (docs/api.md, "Browsers and CORS").

Allowed origins are configured (``SKOLIT_CORS_ORIGINS``, comma-separated): none by default, so a production
deployment opens nothing it did not name; ``make run`` names the web app's origin. A preflight from an origin
that is not allowed is refused with a 403 problem document, like every other refusal.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from shared.problems import MEDIA_TYPE, TYPE_BASE

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Accept", "Accept-Language", "Idempotency-Key")
EXPOSED_HEADERS = ("Location", "Retry-After", "Deprecation", "Link", "Idempotency-Replayed", "WWW-Authenticate", "Content-Disposition")
MAX_AGE_SECONDS = 600


class Cors(CORSMiddleware):
    """Starlette's CORS, with refused preflights answered as RFC 9457 problems."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        reason = response.body.decode("utf-8", "replace") if isinstance(response.body, bytes) else "refused"
        body = {"type": TYPE_BASE + "cors-refused", "title": "Forbidden", "status": 403,
                "detail": f"cross-origin request refused: {reason}", "field": "header.Origin",
                "errors": [{"location": "header.Origin", "message": reason}]}
        return Response(json.dumps(body), status_code=403, media_type=MEDIA_TYPE, headers={"Vary": "Origin"})
