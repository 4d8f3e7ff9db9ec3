"""Hyperparameter search over the time split: Optuna's TPE sampler, the default config first.

Features are built once; each trial fits a booster on the train window's labels and is scored
by its best average precision on the validation window's labels (the test window is never
looked at: it stays the honest judge of the config found). Trial 0 is the config as given, so
the search can only report a config that did better on validation than the default. The
search is bounded by a number of trials and a time; MLflow logging is `tracking`'s, handed in
as a callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna

from riskscore.data import World
from riskscore.features import categorical_names, feature_names
from riskscore.training.config import LightGBMParams, TrainConfig
from riskscore.training.pipeline import prepare_training
from riskscore.training.train import fit_booster

# Called after each trial: (trial number, its parameters, its validation score).
TrialHook = Callable[[int, dict[str, Any], float], None]


@dataclass(frozen=True)
class Tuned:
    """The search's outcome: the best config, its score, the default's score, trials run."""

    config: TrainConfig
    best_score: float
    default_score: float
    trials: int


def _suggest(trial: optuna.Trial) -> dict[str, Any]:
    """The search space, bounded so that a model stays cheap to explain (depth <= 7)."""
    return {
        "num_leaves": trial.suggest_int("num_leaves", 7, 63),
        "max_depth": trial.suggest_int("max_depth", 3, 7),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 5, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
    }


def tune(
    world: World, config: TrainConfig, trials: int, timeout: float, on_trial: TrialHook
) -> Tuned:
    """Search LightGBM parameters on `world`'s validation window, starting from `config`'s."""
    stats, fitted, _ = prepare_training(world.without_truth(), config)
    names, categorical = feature_names(stats), categorical_names(stats)
    x = fitted.features[list(names)]
    train, valid = fitted.labelled["train"], fitted.labelled["validation"]

    def objective(trial: optuna.Trial) -> float:
        params = config.lightgbm.model_copy(update=_suggest(trial))
        booster = fit_booster(x[train], fitted.y[train], x[valid], fitted.y[valid], params,
                              categorical)  # fmt: skip
        score = float(booster.best_score["valid_0"]["average_precision"])
        on_trial(trial.number, dict(trial.params), score)
        return score

    sampler = optuna.samplers.TPESampler(seed=config.lightgbm.seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial({k: getattr(config.lightgbm, k) for k in _DEFAULT_KEYS})
    study.optimize(objective, n_trials=trials, timeout=timeout)
    best: dict[str, Any] = study.best_params
    tuned = config.model_copy(update={"lightgbm": LightGBMParams(**(
        config.lightgbm.model_dump() | best))})  # fmt: skip
    done = [t for t in study.trials if t.value is not None]
    return Tuned(tuned, float(study.best_value), float(done[0].value or 0.0), len(done))


_DEFAULT_KEYS = ("num_leaves", "max_depth", "learning_rate", "min_data_in_leaf",
                 "feature_fraction", "bagging_fraction", "lambda_l2")  # fmt: skip
