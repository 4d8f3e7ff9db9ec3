"""Dependencies the routes receive, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from riskscore.service.scoring import Scorer


def get_scorer(request: Request) -> Scorer:
    return cast(Scorer, request.app.state.scorer)


ScorerDep = Annotated[Scorer, Depends(get_scorer)]
