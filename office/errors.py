"""API errors: one JSON shape for every 4xx/5xx, with a code a client can branch on.

``{"error": {"code": "not_found", "message": "…", "request_id": "…", "fields": [...]}}``.
Validation errors list the offending fields by location and type but never echo input values, so a
rejected ID number does not travel back into logs or proxies.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from office.logs import request_id_var

__all__ = ["COMMON_ERROR_RESPONSES", "ApiError", "ErrorResponse", "error_body", "install_error_handlers"]

log = logging.getLogger("office.errors")

_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    423: "locked",
    429: "too_many_requests",
}


class ErrorDetail(BaseModel):
    """What went wrong, for programs (``code``) and people (``message``)."""

    code: str
    message: str
    request_id: str
    fields: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


#: Error responses every API route can give; documented once for all routes.
COMMON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "not logged in, or device token invalid or revoked"},
    403: {"model": ErrorResponse, "description": "not allowed (role, CSRF, or record-level refusal)"},
    413: {"model": ErrorResponse, "description": "request body too large"},
    422: {"model": ErrorResponse, "description": "request not valid"},
}


class ApiError(Exception):
    """Raised by routes and services for an expected failure the client should see."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        #: Structured fields added to the error body beside ``code`` and ``message``.
        self.extra = extra or {}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON body for an error response."""
    body: dict[str, Any] = {"code": code, "message": message, "request_id": request_id_var.get()}
    body.update(extra)
    return {"error": body}


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so no expected failure becomes a 500 or leaks input values."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, **exc.extra), exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _DEFAULT_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return JSONResponse(error_body(code, message), exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "type": err.get("type", ""),
                "msg": err.get("msg", ""),
            }
            for err in exc.errors()
        ]
        log.info("request validation failed", extra={"path": request.url.path, "n_errors": len(fields)})
        return JSONResponse(error_body("invalid_input", "the request is not valid", fields=fields), 422)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> JSONResponse:
        # A number too large for the database reached a query: bad input, not a server fault.
        log.info("numeric overflow in input", extra={"path": request.url.path})
        return JSONResponse(error_body("invalid_input", "a number in the request is out of range"), 422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", extra={"path": request.url.path, "exc_type": type(exc).__name__})
        return JSONResponse(error_body("internal_error", "internal error; quote the request id"), 500)
