"""Staff accounts and login sessions: create users, log in with lockout, log out, list sessions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from office import audit
from office.audit import Actor
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Role, User, WebSession
from office.security import (
    STRONG,
    PasswordHashing,
    check_password_policy,
    digest,
    hash_password,
    new_token,
    verify_password,
)

__all__ = ["LoginResult", "create_user", "login", "logout", "revoke_session"]


@dataclass(frozen=True)
class LoginResult:
    """A fresh session: the raw cookie token (shown once) and the stored session row."""

    token: str
    session: WebSession
    user: User


def create_user(
    s: Session,
    *,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    office_id: int | None,
    enforce_policy: bool = True,
    hashing: PasswordHashing = STRONG,
) -> User:
    """Add a user; the password must meet the policy unless seeding demo data."""
    if enforce_policy:
        check_password_policy(password)
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise ApiError(409, "username_taken", "that username is already in use")
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        office_id=office_id,
        password_hash=hash_password(password, hashing),
    )
    s.add(user)
    s.flush()
    return user


def login(ctx: OfficeContext, username: str, password: str, *, ip: str, user_agent: str) -> LoginResult:
    """Verify credentials and open a session; 5 failures lock the account for 15 minutes.

    The same generic error answers unknown users and wrong passwords. A locked account answers 423
    only after a correct password, so the lock state does not leak to guessers.
    """
    now = ctx.clock.now()
    settings = ctx.settings
    failure: ApiError | None = None
    result: LoginResult | None = None
    # Failures are committed (counter, lock, audit) before the error is raised.
    with ctx.db() as s, s.begin():
        user = s.scalar(select(User).where(User.username == username))
        ok = verify_password(user.password_hash if user else None, password, ctx.passwords)
        actor = Actor("user" if user else "anonymous", user.id if user else "", ip)
        bad_credentials = ApiError(401, "bad_credentials", "wrong username or password")
        if user is None or not user.active:
            audit.record(s, actor, "auth.login", success=False, reason="unknown_or_inactive")
            ctx.metrics.logins.labels("failed").inc()
            failure = bad_credentials
        elif user.locked_until is not None and user.locked_until > now:
            audit.record(
                s, actor, "auth.login", target_type="user", target_id=user.id, success=False, reason="locked"
            )
            ctx.metrics.logins.labels("locked").inc()
            failure = (
                ApiError(423, "account_locked", "account locked after repeated failures; try later")
                if ok
                else bad_credentials
            )
        elif not ok:
            user.failed_logins += 1
            reason = "bad_password"
            if user.failed_logins >= settings.login_max_failures:
                user.locked_until = now + timedelta(seconds=settings.login_lockout_s)
                user.failed_logins = 0
                reason = "locked_now"
            audit.record(
                s, actor, "auth.login", target_type="user", target_id=user.id, success=False, reason=reason
            )
            ctx.metrics.logins.labels("failed").inc()
            failure = bad_credentials
        else:
            user.failed_logins = 0
            user.locked_until = None
            token = new_token("ds")
            session = WebSession(
                id=digest(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(seconds=settings.session_absolute_timeout_s),
                client_ip=ip[:64],
                user_agent=user_agent[:200],
            )
            s.add(session)
            audit.record(s, actor, "auth.login", target_type="user", target_id=user.id)
            ctx.metrics.logins.labels("ok").inc()
            result = LoginResult(token=token, session=session, user=user)
    if failure is not None:
        raise failure
    assert result is not None
    return result


def logout(ctx: OfficeContext, session_id: str, actor: Actor) -> None:
    """Invalidate the caller's session."""
    revoke_session(ctx, session_id, actor, owner_id=None)


def revoke_session(ctx: OfficeContext, session_id: str, actor: Actor, *, owner_id: int | None) -> bool:
    """Revoke a session (optionally only if it belongs to ``owner_id``); True if one was revoked."""
    now = ctx.clock.now()
    with ctx.db() as s, s.begin():
        stmt = update(WebSession).where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
        if owner_id is not None:
            stmt = stmt.where(WebSession.user_id == owner_id)
        result = s.execute(stmt.values(revoked_at=now))
        done = bool(getattr(result, "rowcount", 0) == 1)
        audit.record(
            s, actor, "auth.session_revoked", target_type="session", target_id=session_id[:12], success=done
        )
    return done
