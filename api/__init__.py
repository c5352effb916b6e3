"""The HTTP service: ``create_app(settings)``, and ``app`` (settings from the environment) for
``uvicorn api:app``."""

from __future__ import annotations

from typing import Any

from api.main import create_app
from api.settings import Settings

__all__ = ["Settings", "app", "create_app"]


def __getattr__(name: str) -> Any:
    # ``app`` is made when first asked for, so that importing the package has no side effect.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
