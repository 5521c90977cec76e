"""Authentication of SCIM requests: Basic (Okta) or Bearer (Entra), each bound to one org.

Builds on `aiohttp_basicauth.BasicAuthMiddleware` (its `ignore` marker keeps
working; routes are guarded by prefix, not with its `required` decorator) but
replaces the parts that do not fit a SCIM service: its plain `==` check becomes
a lookup in the
`CredentialStore` (scrypt, constant time), its empty HTML 401 becomes a SCIM
Error body (Okta's client parses `detail` and `status` on a 401), and bearer
tokens are accepted too. Only paths under `prefix` are guarded, so the
health check and other non-SCIM routes stay open. On success the org the
credential belongs to is put in `request["org_id"]`; nothing downstream
takes an org from anywhere else.

Failed logins are counted into one summary log line per interval (a flood of
guesses must not become a flood of log lines); a check the brute-force guard
refuses (`gateway.auth.guard`) is answered `429` or `503` with `Retry-After`.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from aiohttp_basicauth import BasicAuthMiddleware

from gateway.auth import CredentialStore
from gateway.auth.guard import AuthRefused, FailureSummary
from gateway.auth.store import CredentialInfo, parse_token
from gateway.observability import metrics
from gateway.observability.context import current
from gateway.scim.errors import ScimError
from gateway.web.client_address import TrustedProxies
from gateway.web.responses import error_response

log = logging.getLogger(__name__)

ORG_ID = web.RequestKey("org_id", int)  # the authenticated org id
CREDENTIAL = web.RequestKey("credential", CredentialInfo)  # the credential that proved it
DEFAULT_PREFIX = "/scim/v2"
DEFAULT_REALM = "Workstream SCIM"

MISSING = "Authentication required: send HTTP Basic credentials or a Bearer token"
INVALID = "Invalid credentials"
MALFORMED_BASIC = "Malformed Basic authorization header"
MALFORMED_BEARER = "Malformed Bearer authorization header"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _failed(reason: str, detail: str) -> str:
    """Count a refusal under its reason (a fixed set: see metrics.AUTH_FAILURE_REASONS)."""
    metrics.auth_failure(reason)
    return detail


def _authenticated(request: web.Request, info: CredentialInfo) -> None:
    """Bind the request to the credential's org, and tell the logs and audit who it is."""
    request[ORG_ID] = info.org_id
    request[CREDENTIAL] = info
    ctx = current.get()
    if ctx is not None:
        ctx.authenticated(info.org_id, info.id, info.label)


class ScimAuthMiddleware(BasicAuthMiddleware):
    """aiohttp middleware guarding the SCIM API with the credential store."""

    def __init__(
        self,
        store: CredentialStore,
        *,
        prefix: str = DEFAULT_PREFIX,
        realm: str = DEFAULT_REALM,
        proxies: TrustedProxies | None = None,
    ) -> None:
        super().__init__(force=True, realm=realm)
        self.store = store
        self.prefix = "/" + prefix.strip("/")
        self.below = self.prefix + "/"
        self.proxies = proxies or TrustedProxies()
        self.failures = FailureSummary(store.guard.settings.summary_interval_s)

    def protects(self, request: web.Request) -> bool:
        """Whether the request is for the SCIM API.

        Looks at the decoded path, the raw path and the matched route, so an
        oddly encoded path that still reaches a SCIM handler is guarded too.
        """
        prefix, below = self.prefix, self.below
        resource = request.match_info.route.resource
        if resource is not None:
            route = resource.canonical
            if route.startswith(below) or route == prefix:
                return True
        return any(p.startswith(below) or p == prefix
                   for p in (request.path, request.rel_url.raw_path))

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # Overridden: the stock one guards every path and has only one kind of failure.
        if getattr(handler, "__basic_auth_ignore__", False) or not self.protects(request):
            return await handler(request)
        try:
            failure = await self.authenticate_request(request)
        except AuthRefused as refused:
            return self.refuse(refused)
        if failure is not None:
            return self.challenge(failure)
        return await handler(request)

    async def authenticate_request(self, request: web.Request) -> str | None:
        """Check the Authorization header; None on success, else the 401 detail.

        Raises `AuthRefused` when the guard refuses to check it now.
        """
        header = request.headers.get(hdrs.AUTHORIZATION, "").strip()
        if not header:
            return _failed("missing", MISSING)
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        match scheme.lower():
            case "basic":
                decoded = self._decode_basic(credentials)
                if decoded is None:
                    return _failed("malformed", MALFORMED_BASIC)
                ok = await self.check_credentials(*decoded, request)
                reason = "invalid_basic"
            case "bearer":
                if not credentials or " " in credentials:
                    return _failed("malformed", MALFORMED_BEARER)
                ok = await self.check_bearer(credentials, request)
                reason = "invalid_bearer"
            case _:
                return _failed("unsupported_scheme", f"Unsupported authorization scheme "
                                                     f"{scheme[:20]!r}: use Basic or Bearer")
        return None if ok else _failed(reason, INVALID)

    @staticmethod
    def _decode_basic(credentials: str) -> tuple[str, str] | None:
        try:
            text = base64.b64decode(credentials.encode("ascii"), validate=True).decode("utf-8")
        except (UnicodeError, binascii.Error):
            return None
        username, colon, password = text.partition(":")
        return (username, password) if colon else None

    async def check_credentials(self, username: str, password: str,
                                request: web.Request) -> bool:
        """Basic: the store decides (scrypt, constant time); the org goes on the request."""
        client = self.proxies.client_of(request)
        info = await self.store.identify_basic(username, password, client)
        if info is None:
            self.failures.record("basic", username, client or request.remote)
            return False
        _authenticated(request, info)
        return True

    async def check_bearer(self, token: str, request: web.Request) -> bool:
        """Bearer: as Basic; only the token's non-secret id is ever logged."""
        client = self.proxies.client_of(request)
        info = await self.store.identify_bearer(token, client)
        if info is None:
            parsed = parse_token(token)
            self.failures.record("bearer", parsed[0] if parsed else "(not a gateway token)",
                                 client or request.remote)
            return False
        _authenticated(request, info)
        return True

    @staticmethod
    def refuse(refused: AuthRefused) -> web.Response:
        """429/503 with an integer Retry-After, as a SCIM Error body."""
        metrics.auth_failure("throttled" if refused.status == 429 else "overloaded")
        return error_response(ScimError(refused.status, refused.detail,
                                        retry_after=refused.retry_after))

    def challenge(self, detail: str = MISSING) -> web.Response:
        """A SCIM Error 401 naming both schemes, instead of the stock empty HTML page."""
        realm = self.realm.replace("\\", "\\\\").replace('"', '\\"')
        return error_response(ScimError(
            401, detail,
            headers={hdrs.WWW_AUTHENTICATE: f'Basic realm="{realm}", Bearer realm="{realm}"'},
        ))
