"""Who may call what: principals, per-route access declarations, sessions, CSRF, device tokens.

Every HTTP route declares its access with exactly one :class:`Allow` dependency; ``create_app``
refuses to build an app with an undeclared route, so the default is deny. Resolution order:

1. ``Authorization: Bearer dk_…`` → a kiosk (enrolled, not revoked), if the route admits kiosks;
2. the session cookie → a staff user, whose role must be in the route's roles;
3. otherwise 401 (or the anonymous principal on public routes).

Look-ups of requests arriving together are batched (:mod:`office.batching`): one worker-thread hop
and one query for all of them (:func:`resolve_sessions`, :func:`resolve_kiosks`), each request
getting its own answer.

State-changing requests authenticated by cookie must echo the session's CSRF token in
``X-CSRF-Token``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from psycopg.rows import namedtuple_row
from sqlalchemy import String, Update, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from office.audit import Actor
from office.batching import Combiner, combiner_for
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
    "kiosk_of",
    "resolve_kiosk",
    "resolve_kiosks",
    "resolve_session",
    "resolve_sessions",
    "route_access",
    "user_of",
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
        # runs in a worker thread, batched with the look-ups of requests arriving together.
        ctx = ctx_of(request)
        ip = client_ip(request)
        if self.public:
            return Principal(ip=ip)
        auth = request.headers.get("authorization", "")
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.startswith("dk_"):
                raise ApiError(401, "unauthenticated", "unsupported authorization", headers=_challenge())
            kiosk = await kiosk_of(ctx, token.strip())
            if kiosk is None:
                raise ApiError(
                    401, "unauthenticated", "device token invalid or revoked", headers=_challenge()
                )
            if not self.kiosk:
                raise ApiError(403, ACCESS_DENIED, "kiosks may not call this route")
            return Principal(kiosk=kiosk, ip=ip)
        cookie = request.cookies.get(SESSION_COOKIE)
        user = await user_of(ctx, cookie) if cookie else None
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


async def user_of(ctx: OfficeContext, token: str) -> AuthUser | None:
    """:func:`resolve_session` for a handler on the event loop: look-ups arriving together share
    one worker-thread hop and one query (:mod:`office.batching`)."""
    combiner = combiner_for(ctx, lambda: Combiner(partial(resolve_sessions, ctx)), name="sessions")
    return await combiner.submit(token)


async def kiosk_of(ctx: OfficeContext, token: str) -> AuthKiosk | None:
    """:func:`resolve_kiosk` for a handler on the event loop, batched as :func:`user_of`."""
    combiner = combiner_for(ctx, lambda: Combiner(partial(resolve_kiosks, ctx)), name="kiosks")
    return await combiner.submit(token)


#: Built once: fixed statements skip SQLAlchemy's per-call construction and cache-key work. Each
#: look-up has two spellings of "key in the batch": ``= ANY(array)`` for PostgreSQL (one statement
#: text whatever the batch size) and an expanding ``IN`` for SQLite.
_KIOSK_COLUMNS = (Kiosk.token_hash, Kiosk.id, Kiosk.station_id, Station.office_id, Kiosk.revoked_at)
_KIOSKS = select(*_KIOSK_COLUMNS).join(Station, Station.id == Kiosk.station_id)
_KIOSKS_PG = _KIOSKS.where(Kiosk.token_hash == any_(bindparam("keys", type_=ARRAY(String))))
_KIOSKS_IN = _KIOSKS.where(Kiosk.token_hash.in_(bindparam("keys", expanding=True)))
_SESSIONS = select(
    WebSession.id.label("sid"),
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
).join(User, User.id == WebSession.user_id)
_SESSIONS_PG = _SESSIONS.where(WebSession.id == any_(bindparam("keys", type_=ARRAY(String))))
_SESSIONS_IN = _SESSIONS.where(WebSession.id.in_(bindparam("keys", expanding=True)))
_TOUCH: Update = (
    update(WebSession)
    .where(WebSession.id.in_(bindparam("sids", expanding=True)))
    .values(last_seen_at=bindparam("now", type_=WebSession.last_seen_at.type))
)


#: The PostgreSQL statements above compiled once (SQL text, bind names).
_pg_sql: dict[int, str] = {}


def _lookup(ctx: OfficeContext, pg_stmt: Any, stmt: Any, keys: Collection[str]) -> list[Any]:
    """The rows whose key is in ``keys`` (attribute access by column name), in one read.

    On PostgreSQL: a single round trip in autocommit (no BEGIN, no ROLLBACK), the statement
    compiled once and run on the psycopg connection (no per-request compile or result set-up).
    On SQLite: a deferred read transaction (never the write lock).
    """
    params = {"keys": list(keys)}
    if ctx.engine.dialect.name == "postgresql":
        sql = _pg_sql.get(id(pg_stmt))
        if sql is None:
            sql = _pg_sql[id(pg_stmt)] = pg_stmt.compile(dialect=ctx.engine.dialect).string
        with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            driver: Any = conn.connection.driver_connection
            with driver.cursor(row_factory=namedtuple_row) as cur:
                cur.execute(sql, params)
                rows: list[Any] = cur.fetchall()
                return rows
    with ctx.read_engine.connect() as conn:
        return list(conn.execute(stmt, params))


def resolve_kiosks(ctx: OfficeContext, tokens: Sequence[str]) -> list[AuthKiosk | None]:
    """Validate device tokens in one query: per token its enrolled, not revoked kiosk, or ``None``."""
    hashes = [digest(t) for t in tokens]
    rows = {r.token_hash: r for r in _lookup(ctx, _KIOSKS_PG, _KIOSKS_IN, set(hashes))}
    out: list[AuthKiosk | None] = []
    for h in hashes:
        row = rows.get(h)
        if row is None or row.revoked_at is not None:
            out.append(None)
        else:
            out.append(AuthKiosk(id=row.id, station_id=row.station_id, office_id=row.office_id))
    return out


def resolve_kiosk(ctx: OfficeContext, token: str) -> AuthKiosk | None:
    """Validate a device token: an enrolled, not revoked kiosk, or ``None``."""
    return resolve_kiosks(ctx, [token])[0]


def resolve_sessions(ctx: OfficeContext, tokens: Sequence[str]) -> list[AuthUser | None]:
    """Validate session cookies in one query: per cookie its user, or ``None`` unless the session
    exists, is not revoked, is within its idle and absolute limits and its user is active. Sessions
    whose last-seen stamp is due are touched, all in one statement."""
    sids = [digest(t) for t in tokens]
    now = ctx.clock.now()
    rows = {r.sid: r for r in _lookup(ctx, _SESSIONS_PG, _SESSIONS_IN, set(sids))}
    idle = timedelta(seconds=ctx.settings.session_idle_timeout_s)
    touch_after = timedelta(seconds=ctx.settings.session_touch_interval_s)
    due: set[str] = set()
    out: list[AuthUser | None] = []
    for sid in sids:
        row = rows.get(sid)
        if row is None or row.revoked_at is not None or not row.active:
            out.append(None)
            continue
        if now >= row.expires_at or now - row.last_seen_at >= idle:
            out.append(None)
            continue
        if now - row.last_seen_at >= touch_after:
            due.add(sid)
        out.append(
            AuthUser(
                id=row.id,
                username=row.username,
                display_name=row.display_name,
                role=Role(row.role),
                office_id=row.office_id,
                session_id=sid,
                csrf_token=row.csrf_token,
            )
        )
    if due:
        _touch(ctx, sorted(due), now)
    return out


def resolve_session(ctx: OfficeContext, token: str) -> AuthUser | None:
    """Validate a session cookie (see :func:`resolve_sessions`)."""
    return resolve_sessions(ctx, [token])[0]


def _touch(ctx: OfficeContext, sids: list[str], now: datetime) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(_TOUCH, {"sids": sids, "now": now})


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
