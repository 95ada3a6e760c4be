"""Who may call what: principals, per-route access declarations, sessions, CSRF, device tokens.

Every HTTP route declares its access with exactly one :class:`Allow` dependency; ``create_app``
refuses to build an app with an undeclared route, so the default is deny. Resolution order:

1. ``Authorization: Bearer dk_…`` → a kiosk (enrolled, not revoked), if the route admits kiosks;
2. the session cookie → a staff user, whose role must be in the route's roles;
3. otherwise 401 (or the anonymous principal on public routes).

State-changing requests authenticated by cookie must echo the session's CSRF token in
``X-CSRF-Token``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from psycopg.rows import namedtuple_row
from sqlalchemy import Select, bindparam, select, update
from starlette.concurrency import run_in_threadpool

from office.audit import Actor
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Kiosk, Role, Station, User, WebSession
from office.security import digest, tokens_equal

__all__ = [
    "ACCESS_DENIED",
    "SESSION_COOKIE",
    "Allow",
    "AuthKiosk",
    "AuthUser",
    "DeclaredRoute",
    "Principal",
    "api_routes",
    "ctx_of",
    "resolve_kiosk",
    "resolve_session",
    "route_access",
]

SESSION_COOKIE = "doorstep_session"
#: Error code of a refusal by the access declaration itself (record-level refusals use other codes).
ACCESS_DENIED = "access_denied"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class AuthUser:
    """The authenticated staff member (no password hash, no personal data)."""

    id: int
    username: str
    display_name: str
    role: Role
    office_id: int | None
    session_id: str
    csrf_token: str


@dataclass(frozen=True, slots=True)
class AuthKiosk:
    """The authenticated kiosk and where it stands."""

    id: int
    station_id: int
    office_id: int


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request: exactly one of user / kiosk, or neither (anonymous)."""

    user: AuthUser | None = None
    kiosk: AuthKiosk | None = None
    ip: str = ""

    @property
    def actor(self) -> Actor:
        """The audit actor for this principal."""
        if self.user:
            return Actor("user", self.user.id, self.ip)
        if self.kiosk:
            return Actor("kiosk", self.kiosk.id, self.ip)
        return Actor("anonymous", "", self.ip)

    def require_user(self) -> AuthUser:
        """The user, or 403 for kiosk/anonymous callers (for routes admitting both)."""
        if self.user is None:
            raise ApiError(403, "forbidden", "staff login required")
        return self.user

    def require_kiosk(self) -> AuthKiosk:
        """The kiosk, or 403."""
        if self.kiosk is None:
            raise ApiError(403, "forbidden", "kiosk device token required")
        return self.kiosk


def ctx_of(request: Request) -> OfficeContext:
    """The app's service container."""
    ctx: OfficeContext = request.app.state.ctx
    return ctx


def client_ip(request: Request) -> str:
    """The peer address (a proxy in front must set it through uvicorn's --forwarded-allow-ips)."""
    return request.client.host if request.client else ""


class Allow:
    """Access declaration and resolver for one route.

    ``Allow(Role.ADMIN)``: admins only. ``Allow(kiosk=True)``: enrolled kiosks only.
    ``Allow(Role.AGENT, kiosk=True)``: either. ``Allow(public=True)``: anyone.
    """

    def __init__(self, *roles: Role, kiosk: bool = False, public: bool = False) -> None:
        if public and (roles or kiosk):
            raise ValueError("a public route needs no roles")
        if not (public or roles or kiosk):
            raise ValueError("declare at least one role, kiosk=True, or public=True")
        self.roles = frozenset(roles)
        self.kiosk = kiosk
        self.public = public

    def __repr__(self) -> str:
        parts = [r.value for r in sorted(self.roles)] + (["kiosk"] if self.kiosk else [])
        return f"Allow({'public' if self.public else ', '.join(parts)})"

    def admits(self, kind: str) -> bool:
        """Whether a caller of ``kind`` (a role value, ``kiosk`` or ``anonymous``) is admitted."""
        if self.public:
            return True
        if kind == "kiosk":
            return self.kiosk
        return kind in {r.value for r in self.roles}

    async def __call__(self, request: Request) -> Principal:
        # Async so the route's own thread-pool hop (if any) is the only one; the indexed look-up
        # runs in a worker thread on a plain Core connection (no ORM session) to stay cheap.
        ctx = ctx_of(request)
        ip = client_ip(request)
        if self.public:
            return Principal(ip=ip)
        auth = request.headers.get("authorization", "")
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.startswith("dk_"):
                raise ApiError(401, "unauthenticated", "unsupported authorization", headers=_challenge())
            kiosk = await run_in_threadpool(resolve_kiosk, ctx, token.strip())
            if kiosk is None:
                raise ApiError(
                    401, "unauthenticated", "device token invalid or revoked", headers=_challenge()
                )
            if not self.kiosk:
                raise ApiError(403, ACCESS_DENIED, "kiosks may not call this route")
            return Principal(kiosk=kiosk, ip=ip)
        cookie = request.cookies.get(SESSION_COOKIE)
        user = await run_in_threadpool(resolve_session, ctx, cookie) if cookie else None
        if user is None:
            raise ApiError(401, "unauthenticated", "login required")
        if user.role not in self.roles:
            raise ApiError(403, ACCESS_DENIED, "your role may not call this route")
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not tokens_equal(sent, user.csrf_token):
                raise ApiError(403, "csrf_failed", "missing or wrong X-CSRF-Token header")
        return Principal(user=user, ip=ip)


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="doorstep-kiosk"'}


#: Built once: a fixed statement skips SQLAlchemy's per-call construction and cache-key work.
_KIOSK_BY_TOKEN = (
    select(Kiosk.id, Kiosk.station_id, Station.office_id, Kiosk.revoked_at)
    .join(Station, Station.id == Kiosk.station_id)
    .where(Kiosk.token_hash == bindparam("token_hash"))
)
_SESSION_BY_ID = (
    select(
        WebSession.csrf_token,
        WebSession.last_seen_at,
        WebSession.expires_at,
        WebSession.revoked_at,
        User.id,
        User.username,
        User.display_name,
        User.role,
        User.office_id,
        User.active,
    )
    .join(User, User.id == WebSession.user_id)
    .where(WebSession.id == bindparam("sid"))
)


#: The statements above compiled once for PostgreSQL (SQL text, bind names).
_pg_sql: dict[int, str] = {}


def _lookup(ctx: OfficeContext, stmt: Select[*tuple[Any, ...]], params: dict[str, str]) -> Any:
    """One read of one row (attribute access by column name), or None.

    On PostgreSQL: a single round trip in autocommit (no BEGIN, no ROLLBACK), the statement
    compiled once and run on the psycopg connection (no per-request compile or result set-up).
    On SQLite: a deferred read transaction (never the write lock).
    """
    if ctx.engine.dialect.name == "postgresql":
        sql = _pg_sql.get(id(stmt))
        if sql is None:
            sql = _pg_sql[id(stmt)] = stmt.compile(dialect=ctx.engine.dialect).string
        with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            driver: Any = conn.connection.driver_connection
            with driver.cursor(row_factory=namedtuple_row) as cur:
                cur.execute(sql, params)
                return cur.fetchone()
    with ctx.read_engine.connect() as conn:
        return conn.execute(stmt, params).first()


def resolve_kiosk(ctx: OfficeContext, token: str) -> AuthKiosk | None:
    """Validate a device token: an enrolled, not revoked kiosk, or ``None``."""
    row = _lookup(ctx, _KIOSK_BY_TOKEN, {"token_hash": digest(token)})
    if row is None or row.revoked_at is not None:
        return None
    return AuthKiosk(id=row.id, station_id=row.station_id, office_id=row.office_id)


def resolve_session(ctx: OfficeContext, token: str) -> AuthUser | None:
    """Validate a session cookie: exists, not revoked, within idle and absolute limits, user active."""
    sid = digest(token)
    now = ctx.clock.now()
    row = _lookup(ctx, _SESSION_BY_ID, {"sid": sid})
    if row is None or row.revoked_at is not None or not row.active:
        return None
    idle = timedelta(seconds=ctx.settings.session_idle_timeout_s)
    if now >= row.expires_at or now - row.last_seen_at >= idle:
        return None
    if now - row.last_seen_at >= timedelta(seconds=ctx.settings.session_touch_interval_s):
        _touch(ctx, sid, now)
    return AuthUser(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        office_id=row.office_id,
        session_id=sid,
        csrf_token=row.csrf_token,
    )


def _touch(ctx: OfficeContext, sid: str, now: datetime) -> None:
    with ctx.db() as s, s.begin():
        s.execute(update(WebSession).where(WebSession.id == sid).values(last_seen_at=now))


@dataclass(frozen=True, slots=True)
class DeclaredRoute:
    """An HTTP route as served: full path, methods, and its endpoint definition."""

    path: str
    methods: frozenset[str]
    route: APIRoute


def api_routes(app: FastAPI) -> list[DeclaredRoute]:
    """Every API route the app serves, with included routers flattened."""
    out: list[DeclaredRoute] = []
    try:  # FastAPI >= 0.16x wraps included routers; this walks them
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are plain APIRoutes
        return [
            DeclaredRoute(r.path, frozenset(r.methods or ()), r)
            for r in app.routes
            if isinstance(r, APIRoute)
        ]
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            out.append(DeclaredRoute(context.path or route.path, frozenset(route.methods or ()), route))
    return out


def route_access(route: APIRoute) -> Allow | None:
    """The route's :class:`Allow` declaration, found anywhere in its dependency tree."""
    found: list[Allow] = []

    def walk(dep: Dependant) -> None:
        call: Any = dep.call
        if isinstance(call, Allow):
            found.append(call)
        for sub in dep.dependencies:
            walk(sub)

    walk(route.dependant)
    if len(found) > 1:
        raise RuntimeError(f"route {route.path} declares access more than once")
    return found[0] if found else None
