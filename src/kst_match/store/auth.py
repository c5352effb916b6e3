"""Users and their bearer tokens. A token is 32 random bytes (URL-safe text), shown once; only
its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from kst_match.store.db import now
from kst_match.store.models import TokenRow, UserRow

ROLES = ("coordinator", "planner", "partner", "volunteer")


@dataclass(frozen=True)
class Principal:
    """Who a request comes from."""

    token_id: str
    user_id: int
    name: str
    role: str
    volunteer_id: str | None = None
    partner_id: str | None = None


class RoleError(ValueError):
    """A role without the binding it needs, or with one it may not have."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_binding(role: str, volunteer_id: str | None, partner_id: str | None) -> None:
    """A volunteer token is bound to one volunteer, a partner token to one partner; the other
    roles to neither."""
    if role not in ROLES:
        raise RoleError(f"role must be one of {', '.join(ROLES)}")
    if role == "volunteer" and (not volunteer_id or partner_id):
        raise RoleError("a volunteer token needs a volunteer id (and no partner id)")
    if role == "partner" and (not partner_id or volunteer_id):
        raise RoleError("a partner token needs a partner id (and no volunteer id)")
    if role in ("coordinator", "planner") and (volunteer_id or partner_id):
        raise RoleError(f"a {role} token is bound to no volunteer or partner")


def add(
    session: Session,
    role: str,
    name: str = "",
    volunteer_id: str | None = None,
    partner_id: str | None = None,
) -> tuple[str, str]:
    """A new user with one token: ``(token_id, token)``; the token is not stored."""
    check_binding(role, volunteer_id, partner_id)
    user = UserRow(
        name=name or (volunteer_id or partner_id or role),
        role=role,
        volunteer_id=volunteer_id,
        partner_id=partner_id,
        created_at=now(),
    )
    session.add(user)
    session.flush()
    token = secrets.token_urlsafe(32)
    token_id = f"t_{secrets.token_hex(6)}"
    session.add(
        TokenRow(token_id=token_id, user_id=user.id, sha256=digest(token), created_at=now())
    )
    return token_id, token


def revoke(session: Session, token_id: str) -> bool:
    """Revoke a token; False if there is no such token."""
    row = session.get(TokenRow, token_id)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = now()
    return True


def tokens(session: Session) -> list[tuple[TokenRow, UserRow]]:
    """Every token with its user, oldest first."""
    query = select(TokenRow, UserRow).join(UserRow, TokenRow.user_id == UserRow.id)
    return [(t, u) for t, u in session.execute(query.order_by(TokenRow.created_at))]


# Built once: columns rather than ORM objects, and SQLAlchemy's cache key for the statement is
# worked out on its first use only. Every request but the health check runs it.
_LOOKUP = (
    select(
        TokenRow.token_id,
        UserRow.id,
        UserRow.name,
        UserRow.role,
        UserRow.volunteer_id,
        UserRow.partner_id,
    )
    .select_from(TokenRow)
    .join(UserRow, TokenRow.user_id == UserRow.id)
    .where(TokenRow.sha256 == bindparam("sha256"), TokenRow.revoked_at.is_(None))
)


def lookup(session: Session | Connection, token: str) -> Principal | None:
    """The principal of a live token, or None (unknown or revoked)."""
    found = session.execute(_LOOKUP, {"sha256": digest(token)}).first()
    if found is None:
        return None
    return Principal(*found)
