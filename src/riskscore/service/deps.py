"""Dependencies the routes receive, as `Annotated` aliases.

The caller aliases check the role a route needs; `Authenticate` (`service/auth.py`) has
already refused a request without a valid key. They also declare the bearer scheme in the
OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, cast

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from riskscore.errors import AuthenticationError, PermissionDeniedError
from riskscore.service.auth import Caller, Role, caller_of
from riskscore.service.metrics import Metrics
from riskscore.service.scoring import Scorer

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `riskscore keys add`, sent as `Authorization: Bearer KEY`.",
)


def get_scorer(request: Request) -> Scorer:
    return cast(Scorer, request.app.state.scorer)


def get_metrics(request: Request) -> Metrics:
    return cast(Metrics, request.app.state.metrics)


def get_caller(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> Caller:
    """The caller `Authenticate` found for the request's key."""
    caller = caller_of(request.scope.get("state", {}))
    if caller is None:
        raise AuthenticationError("no valid API key")
    return caller


def _requires(*roles: Role) -> Callable[[Caller], Caller]:
    """A dependency that lets through a caller with any of `roles`."""
    named = " or ".join(repr(r.value) for r in roles)

    def check(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if caller.roles.isdisjoint(roles):
            raise PermissionDeniedError(f"this key lacks the {named} role")
        return caller

    return check


ScorerDep = Annotated[Scorer, Depends(get_scorer)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
CallerDep = Annotated[Caller, Depends(get_caller)]  # any valid key
ScoreCaller = Annotated[Caller, Depends(_requires(Role.SCORE))]
OutcomesCaller = Annotated[Caller, Depends(_requires(Role.OUTCOMES))]
RegisterCaller = Annotated[Caller, Depends(_requires(Role.REGISTER))]
# A `score` caller reads back the answers to its own documents, a `read` caller any answer.
AnswerCaller = Annotated[Caller, Depends(_requires(Role.READ, Role.SCORE))]
AdminCaller = Annotated[Caller, Depends(_requires(Role.ADMIN))]
