"""The one exception type of the sandbox, shaped like the contract's error body.

Every layer (rules, store, handlers) raises `ApiError`; only the app's error
middleware turns it into `{"error": {"code", "message", "fields"?}}`, so every
error the gateway sees has exactly the contract's shape.
"""

from __future__ import annotations

Fields = dict[str, list[str]]


class ApiError(Exception):
    """An answer other than 2xx, with the contract's status/code pairing."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Fields | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        """The JSON body; `fields` only for 409/422 as the contract says."""
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.status in (409, 422):
            error["fields"] = self.fields or {}
        return {"error": error}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "missing or wrong service token")


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def method_not_allowed(allowed: str) -> ApiError:
    return ApiError(
        405, "method_not_allowed", "method not allowed on this route", headers={"Allow": allowed}
    )


def conflict(fields: Fields) -> ApiError:
    return ApiError(409, "conflict", "a uniqueness rule would be broken", fields)


def stale(current: int) -> ApiError:
    return ApiError(412, "stale", f"If-Match does not match lock_version {current}")


def invalid(fields: Fields) -> ApiError:
    return ApiError(422, "invalid", "validation failed", fields)


def rate_limited(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        "over the org's request rate",
        headers={"Retry-After": str(retry_after)},
    )


def unavailable(retry_after: int | None) -> ApiError:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return ApiError(503, "unavailable", "backend under maintenance", headers=headers)
