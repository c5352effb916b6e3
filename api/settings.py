"""The service's settings, from the environment (``KST_MATCH_*``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in text.split(",") if o.strip())


@dataclass(frozen=True)
class Settings:
    """``database_url``: None means ``KST_MATCH_DATABASE_URL`` or the default SQLite file.
    Rate limits are ``limits`` strings (``"60/minute"``, ``"10/second"``), counted per token;
    ``rate_limit_storage`` a ``limits`` storage URI (``memory://`` counts per server process;
    ``redis://host`` shares counts between processes). ``job_workers``: worker processes that
    run plans, re-plans and scenarios."""

    database_url: str | None = None
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    report_rate_limit: str = "120/minute"
    token_rate_limit: str = "30/minute"
    rate_limit_storage: str = "memory://"
    job_workers: int = 1

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=env.get("KST_MATCH_DATABASE_URL") or None,
            cors_origins=_origins(env.get("KST_MATCH_CORS_ORIGINS", "")),
            report_rate_limit=env.get("KST_MATCH_REPORT_RATE_LIMIT", cls.report_rate_limit),
            token_rate_limit=env.get("KST_MATCH_TOKEN_RATE_LIMIT", cls.token_rate_limit),
            rate_limit_storage=env.get("KST_MATCH_RATE_LIMIT_STORAGE", cls.rate_limit_storage),
            job_workers=int(env.get("KST_MATCH_JOB_WORKERS", cls.job_workers)),
        )
