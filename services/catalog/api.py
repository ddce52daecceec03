"""HTTP routes of the catalog service; each area in its own module under routes/."""

from fastapi import APIRouter

from services.catalog.routes import apps, bulk, licences, public, requests, search, usage

router = APIRouter()
# bulk and search first: /apps/export and /apps/import must win over /apps/{app_id}
for module in (bulk, search, apps, licences, requests, usage, public):
    router.include_router(module.router)
