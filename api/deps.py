"""Dependencies shared by the routers: the store, the job runner, who is asking, and rate
limits. Every denial carries only ``{"detail": ...}``."""

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from api.jobs import JobRunner
from api.ratelimit import MovingWindows
from kst_match.store import Store
from kst_match.store.auth import Principal, lookup

_bearer = HTTPBearer(auto_error=False, description="A token from `kst-match users add`.")


# Dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` dependency in its
# thread pool, and each such hop costs more than the work on the hot paths (pulling assignments,
# reporting).
async def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


async def get_runner(request: Request) -> JobRunner:
    return request.app.state.runner  # type: ignore[no-any-return]


StoreDep = Annotated[Store, Depends(get_store)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return None


def _unauthorised() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "a valid bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )


def caller(
    session: Session | Connection, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The caller, from a live bearer token; 401 otherwise. Reads the database."""
    token = _bearer_token(credentials)
    found = lookup(session, token) if token is not None else None
    if found is None:
        raise _unauthorised()
    return found


def principal(store: StoreDep, credentials: Credentials) -> Principal:
    """The caller, from a live bearer token; 401 otherwise."""
    if _bearer_token(credentials) is None:
        raise _unauthorised()
    with store.connect() as connection:
        return caller(connection, credentials)


def _refuse_role(who: Principal, roles: tuple[str, ...]) -> None:
    if who.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed for this role")


def role(*roles: str) -> Callable[[Principal], Principal]:
    """The caller, if their role is one of ``roles``; 403 otherwise."""

    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        _refuse_role(who, roles)
        return who

    return check


Coordinator = Annotated[Principal, Depends(role("coordinator"))]
Planner = Annotated[Principal, Depends(role("planner"))]
CoordinatorOrPlanner = Annotated[Principal, Depends(role("coordinator", "planner"))]
PartnerUser = Annotated[Principal, Depends(role("partner"))]
VolunteerUser = Annotated[Principal, Depends(role("volunteer"))]


class RateLimits:
    """Moving-window rate limits per token: counted in this process for ``memory://``
    (``api.ratelimit``), else in the ``limits`` library's storage at ``storage_uri``."""

    def __init__(self, storage_uri: str, limits: dict[str, str]) -> None:
        self.limits = {name: parse(text) for name, text in limits.items()}
        self.local = MovingWindows() if storage_uri.startswith("memory://") else None
        self.limiter = (
            None if self.local else MovingWindowRateLimiter(storage_from_string(storage_uri))
        )

    def hit(self, name: str, key: str) -> None:
        """Count one request; 429 with ``Retry-After`` (whole seconds) when over the limit."""
        item = self.limits[name]
        wait = self._wait_s(item, name, key)
        if wait is not None:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many requests: at most {item}",
                headers={"Retry-After": str(max(1, int(wait) + 1))},
            )

    def _wait_s(self, item: RateLimitItem, name: str, key: str) -> float | None:
        """None if the hit is counted, else the seconds until one more would be."""
        if self.local is not None:
            return self.local.hit(item.key_for(name, key), item.amount, item.get_expiry())
        assert self.limiter is not None
        if self.limiter.hit(item, name, key):
            return None
        return self.limiter.get_window_stats(item, name, key).reset_time - time.time()


def rate_limited(name: str, *roles: str) -> Callable[..., Principal]:
    """The caller (one of ``roles``), counted against the rate limit ``name``."""
    allowed = role(*roles)

    def check(request: Request, who: Annotated[Principal, Depends(allowed)]) -> Principal:
        request.app.state.rate_limits.hit(name, who.token_id)
        return who

    return check


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


class Gate:
    """Who may call a street champion's route, checked by the route itself in the thread and
    database connection of its own work: one thread-pool hop and one connection per request,
    where a dependency would take a hop and a connection of its own (each hop costs more than
    the work of these routes). ``limit``: the rate limit counted for each call.

    A dependency is checked before the request's parameters are validated; a route with a
    gate is marked (``@gate`` under the router's decorator) so that ``validation_error``
    refuses a caller the same way first: 401, 403 or 429 before 422."""

    def __init__(self, *roles: str, limit: str | None = None) -> None:
        self.roles = roles
        self.limit = limit

    def __call__(self, endpoint: Endpoint) -> Endpoint:
        endpoint.gate = self  # type: ignore[attr-defined]
        return endpoint

    def check(
        self,
        request: Request,
        connection: Session | Connection,
        credentials: HTTPAuthorizationCredentials | None,
    ) -> Principal:
        """The caller: 401, 403 or 429 as ``rate_limited(limit, *roles)`` or
        ``role(*roles)`` would answer. Reads the database: call it from a worker thread."""
        who = caller(connection, credentials)
        _refuse_role(who, self.roles)
        if self.limit is not None:
            request.app.state.rate_limits.hit(self.limit, who.token_id)
        return who

    def refuse(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> None:
        """Raise what ``check`` raises for this caller, if anything (its own connection)."""
        store: Store = request.app.state.store
        with store.connect() as connection:
            self.check(request, connection, credentials)


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """422 for a malformed request, unless its route has a gate that refuses the caller."""
    gate = getattr(getattr(request.scope.get("route"), "endpoint", None), "gate", None)
    if isinstance(gate, Gate):
        try:
            await run_in_threadpool(gate.refuse, request, await _bearer(request))
        except HTTPException as refused:
            return await http_exception_handler(request, refused)
    return await request_validation_exception_handler(request, exc)
