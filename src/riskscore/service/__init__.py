"""The scoring service: FastAPI app factory, routes, dependencies, problem details."""

from __future__ import annotations

from riskscore.service.app import create_app

__all__ = ["create_app"]
