"""The facts every app event carries, built from the app's row in one place."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from services.catalog import store
from services.catalog.domain import StatusDefinition, privacy_rating


def app_facts(row: asyncpg.Record, status: StatusDefinition, today: date) -> dict[str, Any]:
    dp = store.data_protection(row)
    return {
        "id": row["id"], "name": row["name"], "supplier": row["supplier"], "kind": row["kind"],
        "headings": list(row["headings"]), "schoolTypes": list(row["school_types"]), "subjects": list(row["subjects"]),
        "status": status.code, "allowsUse": status.allows_use, "dpaStatus": row["dpa_status"], "dpaExpires": row["dpa_expires"],
        "processesPersonalData": dp.processes_personal_data, "transferOutsideEea": dp.transferOutsideEea,
        "privacy": privacy_rating(dp, today), "freeUse": row["free_use"], "version": row["version"],
    }
