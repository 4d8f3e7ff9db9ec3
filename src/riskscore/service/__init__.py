"""The scoring service: FastAPI app factory, routes, dependencies, problem details.

`app.create_app` builds the app; `runtime.ModelRuntime` is one model ready to serve (what a
reload would swap); `scoring.Scorer` scores a document inside one store transaction;
`problems` maps every error to RFC 9457 problem details.

May import: `riskscore.store`, `riskscore.registry`, `riskscore.model`, `riskscore.features`,
`riskscore.schema`, `riskscore.reference`, `riskscore.config`, `riskscore.errors`; never
`riskscore.training` or `riskscore.synthetic`.
"""

from __future__ import annotations

from riskscore.service.app import create_app

__all__ = ["create_app"]
