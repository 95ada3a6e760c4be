"""Login, logout, the current user, and the user's own sessions."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from office import accounts
from office.api.common import AnyStaff, PrefixRouter, Public, StrictModel
from office.auth import SESSION_COOKIE, ctx_of
from office.errors import ApiError
from office.models import Role, WebSession

router = PrefixRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(StrictModel):
    """Credentials."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    """The logged-in user and the CSRF token to echo on state-changing requests."""

    id: int
    username: str
    display_name: str
    role: Role
    office_id: int | None
    csrf_token: str


class SessionInfo(BaseModel):
    """One of the user's sessions (the id is a prefix of the digest, enough to end it)."""

    id: str
    created_at: datetime
    last_seen_at: datetime
    client_ip: str
    user_agent: str
    current: bool


@router.post(
    "/login",
    response_model=Me,
    summary="Log in; sets the session cookie",
    responses={401: {"description": "wrong credentials"}, 423: {"description": "account locked"}},
)
def login(body: LoginRequest, request: Request, response: Response, p: Public) -> Me:
    ctx = ctx_of(request)
    result = accounts.login(
        ctx, body.username, body.password, ip=p.ip, user_agent=request.headers.get("user-agent", "")
    )
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=ctx.settings.session_absolute_timeout_s,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    u = result.user
    return Me(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        role=u.role,
        office_id=u.office_id,
        csrf_token=result.session.csrf_token,
    )


@router.post("/logout", status_code=204, summary="End this session", response_class=Response)
def logout(request: Request, p: AnyStaff) -> Response:
    user = p.require_user()
    accounts.logout(ctx_of(request), user.session_id, p.actor)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me, summary="The current user")
async def me(p: AnyStaff) -> Me:
    u = p.require_user()
    return Me(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        role=u.role,
        office_id=u.office_id,
        csrf_token=u.csrf_token,
    )


@router.get("/sessions", response_model=list[SessionInfo], summary="My active sessions")
def sessions(request: Request, p: AnyStaff) -> list[SessionInfo]:
    ctx = ctx_of(request)
    u = p.require_user()
    now = ctx.clock.now()
    with ctx.read_db() as s:
        rows = s.scalars(
            select(WebSession)
            .where(WebSession.user_id == u.id, WebSession.revoked_at.is_(None), WebSession.expires_at > now)
            .order_by(WebSession.created_at)
        ).all()
    return [
        SessionInfo(
            id=r.id[:16],
            created_at=r.created_at,
            last_seen_at=r.last_seen_at,
            client_ip=r.client_ip,
            user_agent=r.user_agent,
            current=r.id == u.session_id,
        )
        for r in rows
    ]


@router.delete(
    "/sessions/{session_prefix}",
    status_code=204,
    summary="End one of my other sessions",
    response_class=Response,
    responses={404: {"description": "no such session"}},
)
def end_session(session_prefix: str, request: Request, p: AnyStaff) -> Response:
    ctx = ctx_of(request)
    u = p.require_user()
    if len(session_prefix) != 16 or not all(c in "0123456789abcdef" for c in session_prefix):
        raise ApiError(404, "session_not_found", "no such session")
    with ctx.read_db() as s:
        sid = s.scalar(
            select(WebSession.id).where(
                WebSession.user_id == u.id, WebSession.id.startswith(session_prefix, autoescape=True)
            )
        )
    if sid is None or not accounts.revoke_session(ctx, sid, p.actor, owner_id=u.id):
        raise ApiError(404, "session_not_found", "no such session")
    return Response(status_code=204)
