"""Skolit web: the app principals, staff, teachers, guardians and administrators use.

A deployable of its own that owns no database schema and reads no topic: every page calls the four services' public
HTTP APIs on behalf of the signed-in person (web/api.py), with the access token the city's OpenID provider gave them
(web/oidc.py), kept in an encrypted, HttpOnly, SameSite cookie (web/session.py). Pages are server-rendered and do
their work without JavaScript; web/static/skolit.js only enhances them (docs/decisions/0017-web-app.md).
"""
