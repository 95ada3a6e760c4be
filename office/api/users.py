"""User administration (admins only)."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from pydantic import BaseModel, Field

from office import accounts, audit
from office.api.common import MAX_ID, AdminOnly, IdPath, PrefixRouter, StrictModel
from office.auth import ctx_of
from office.errors import ApiError
from office.models import Office, Role, User
from office.security import PasswordPolicyError, check_password_policy, hash_password

router = PrefixRouter(prefix="/api/users", tags=["users"])


class UserOut(BaseModel):
    """A staff account as admins see it."""

    id: int
    username: str
    display_name: str
    role: Role
    office_id: int | None
    active: bool
    locked_until: datetime | None
    created_at: datetime


class UserCreate(StrictModel):
    """A new staff account."""

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    role: Role
    office_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    password: str = Field(min_length=10, max_length=256)


class UserUpdate(StrictModel):
    """Fields an admin may change."""

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=256)
    unlock: bool = False


def _out(u: User) -> UserOut:
    return UserOut(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        role=u.role,
        office_id=u.office_id,
        active=u.active,
        locked_until=u.locked_until,
        created_at=u.created_at,
    )


@router.get("", response_model=list[UserOut], summary="List staff accounts")
def list_users(request: Request, _: AdminOnly) -> list[UserOut]:
    with ctx_of(request).read_db() as s:
        return [_out(u) for u in s.query(User).order_by(User.id).all()]


@router.post(
    "",
    response_model=UserOut,
    status_code=201,
    summary="Create a staff account",
    responses={409: {"description": "username taken"}, 404: {"description": "no such office"}},
)
def create(body: UserCreate, request: Request, p: AdminOnly) -> UserOut:
    ctx = ctx_of(request)
    try:
        check_password_policy(body.password)
    except PasswordPolicyError as err:
        raise ApiError(422, "weak_password", str(err)) from err
    with ctx.db() as s, s.begin():
        if body.office_id is not None and s.get(Office, body.office_id) is None:
            raise ApiError(404, "office_not_found", "no such office")
        user = accounts.create_user(
            s,
            username=body.username,
            display_name=body.display_name,
            role=body.role,
            password=body.password,
            office_id=body.office_id,
            hashing=ctx.passwords,
        )
        audit.record(s, p.actor, "user.created", target_type="user", target_id=user.id, role=body.role.value)
    return _out(user)


@router.patch(
    "/{user_id}",
    response_model=UserOut,
    summary="Change, deactivate, unlock or reset a staff account",
    responses={404: {"description": "no such user"}},
)
def update_user(user_id: IdPath, body: UserUpdate, request: Request, p: AdminOnly) -> UserOut:
    ctx = ctx_of(request)
    if body.password is not None:
        try:
            check_password_policy(body.password)
        except PasswordPolicyError as err:
            raise ApiError(422, "weak_password", str(err)) from err
    with ctx.db() as s, s.begin():
        user = s.get(User, user_id)
        if user is None:
            raise ApiError(404, "user_not_found", "no such user")
        changed: list[str] = []
        if body.display_name is not None:
            user.display_name = body.display_name
            changed.append("display_name")
        if body.role is not None:
            user.role = body.role
            changed.append("role")
        if body.active is not None:
            user.active = body.active
            changed.append("active")
        if body.password is not None:
            user.password_hash = hash_password(body.password, ctx.passwords)
            changed.append("password")
        if body.unlock:
            user.locked_until = None
            user.failed_logins = 0
            changed.append("unlock")
        audit.record(s, p.actor, "user.updated", target_type="user", target_id=user.id, fields=changed)
    return _out(user)
