"""The relay's exception tree; every error the API answers is one of these.

    RelayError
    └── ApiError(status, code, message)     → {"error": code, "message": message}
        ├── BadRequest        400
        ├── Unauthorized      401
        ├── Forbidden         403
        ├── NotFound          404
        ├── RequestTimeout    408  (a body too slow; the connection is closed)
        ├── Conflict          409
        ├── PayloadTooLarge   413
        ├── UnsupportedMedia  415
        ├── TooManyRequests   429  (Retry-After)
        └── Unavailable       503  (Retry-After)
    StoreError                   the store cannot be reached; answered as Unavailable
"""
from __future__ import annotations


class RelayError(Exception):
    """Base of every error raised on purpose by the relay."""


class ApiError(RelayError):
    status = 500
    default_code = "internal_error"

    def __init__(self, message: str, code: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.retry_after = retry_after

    def body(self) -> dict:
        return {"error": self.code, "message": self.message}


class BadRequest(ApiError):
    status, default_code = 400, "bad_request"


class Unauthorized(ApiError):
    status, default_code = 401, "unauthorized"


class Forbidden(ApiError):
    status, default_code = 403, "forbidden"


class NotFound(ApiError):
    status, default_code = 404, "not_found"


class Conflict(ApiError):
    status, default_code = 409, "conflict"


class RequestTimeout(ApiError):
    status, default_code = 408, "request_timeout"


class PayloadTooLarge(ApiError):
    status, default_code = 413, "payload_too_large"


class UnsupportedMedia(ApiError):
    status, default_code = 415, "unsupported_type"


class TooManyRequests(ApiError):
    status, default_code = 429, "rate_limited"


class Unavailable(ApiError):
    status, default_code = 503, "unavailable"


class StoreError(RelayError):
    """The store failed (disk full, locked, Redis down): nothing was written."""
