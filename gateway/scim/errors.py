"""SCIM errors (RFC 7644 §3.12): one exception type every layer raises.

Handlers never build error bodies by hand: they raise `ScimError` (or let a
lower layer raise it) and the error middleware renders it, so every error the
IdP sees has the same shape, `status` as a string and a `detail`.
"""

from __future__ import annotations

from typing import Any

from gateway.scim.schema import ERROR


class ScimError(Exception):
    """An error to answer with a SCIM Error body.

    `scim_type` is one of RFC 7644 Table 9 (invalidFilter, tooMany, uniqueness,
    mutability, invalidSyntax, invalidPath, noTarget, invalidValue, invalidVers,
    sensitive) or None. `retry_after` (seconds) is sent as an integer
    `Retry-After` header on 429/503.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        scim_type: str | None = None,
        *,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.retry_after = retry_after
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemas": [ERROR], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            out["scimType"] = self.scim_type
        return out

    def __repr__(self) -> str:
        return f"ScimError({self.status}, {self.scim_type!r}, {self.detail!r})"


def bad_request(detail: str, scim_type: str | None = "invalidValue") -> ScimError:
    return ScimError(400, detail, scim_type)


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidPath")
