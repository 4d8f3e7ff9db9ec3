"""Dependencies the routes receive: the scorer and the settings, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from riskscore.config import Settings
from riskscore.service.scoring import Scorer


def get_scorer(request: Request) -> Scorer:
    return cast(Scorer, request.app.state.scorer)


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


ScorerDep = Annotated[Scorer, Depends(get_scorer)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
