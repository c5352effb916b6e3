"""Dependencies shared by the routers: the store, the job runner, who is asking, and rate
limits. Every denial carries only ``{"detail": ...}``."""

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.jobs import JobRunner
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


def principal(
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from a live bearer token; 401 otherwise."""
    found = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        with store.read() as session:
            found = lookup(session, credentials.credentials)
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


def role(*roles: str) -> Callable[[Principal], Principal]:
    """The caller, if their role is one of ``roles``; 403 otherwise."""

    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed for this role")
        return who

    return check


Coordinator = Annotated[Principal, Depends(role("coordinator"))]
Planner = Annotated[Principal, Depends(role("planner"))]
CoordinatorOrPlanner = Annotated[Principal, Depends(role("coordinator", "planner"))]
PartnerUser = Annotated[Principal, Depends(role("partner"))]
VolunteerUser = Annotated[Principal, Depends(role("volunteer"))]


class RateLimits:
    """Moving-window rate limits per token (the ``limits`` library)."""

    def __init__(self, storage_uri: str, limits: dict[str, str]) -> None:
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self.limits = {name: parse(text) for name, text in limits.items()}

    def hit(self, name: str, key: str) -> None:
        """Count one request; 429 with ``Retry-After`` when over the limit."""
        item = self.limits[name]
        if not self.limiter.hit(item, name, key):
            reset = self.limiter.get_window_stats(item, name, key).reset_time
            wait = max(1, int(reset - time.time()) + 1)
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many requests: at most {item}",
                headers={"Retry-After": str(wait)},
            )


def rate_limited(name: str, *roles: str) -> Callable[..., Principal]:
    """The caller (one of ``roles``), counted against the rate limit ``name``."""
    allowed = role(*roles)

    def check(request: Request, who: Annotated[Principal, Depends(allowed)]) -> Principal:
        request.app.state.rate_limits.hit(name, who.token_id)
        return who

    return check
