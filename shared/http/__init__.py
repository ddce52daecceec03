"""The HTTP conventions every service follows (docs/api.md): shared shapes, pagination, the OpenAPI
document's problem and security answers, CORS, idempotency keys and the version prefix."""
