"""HTTP routes of the catalog service; each area in its own module under routes/. A route is a thin adapter:
it parses the request, calls a use case (usecases/) in a unit of work for a write, or reads through the store
(queries.py) for a read, and shapes the answer (views.py). Routes never import each other."""

from fastapi import APIRouter

from services.catalog.routes import apps, bulk, licences, public, requests, search, usage

router = APIRouter()
# bulk and search first: /apps/export and /apps/import must win over /apps/{app_id}
for module in (bulk, search, apps, licences, requests, usage, public):
    router.include_router(module.router)
