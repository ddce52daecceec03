"""The city's OpenID provider in the tests: the test stack (tests/support/stack.py) starts devkit/oidc, the real
provider process, and passes its JWKS, issuer, audience and the group → role mapping to the services. A test
registers people (``OidcProvider.add_users``: login → SS 12000 person id, password, groups) and signs them in with
``token_for(login)``, the authorization code flow with PKCE over HTTP; the services then derive their roles from the
city's data (shared/auth/authority.py)."""

from __future__ import annotations

from devkit.oidc import AUDIENCE, PASSWORD, RESOURCES, ROLE_GROUPS, OidcProvider, SignInFailed, User, sign_in

__all__ = ["AUDIENCE", "PASSWORD", "RESOURCES", "ROLE_GROUPS", "OidcProvider", "SignInFailed", "User", "sign_in"]
