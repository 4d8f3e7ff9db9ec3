"""Training runs: the time split, the booster, evaluation, promotion, logging a run.

`pipeline.train_model` takes a dataset (`data.World`) and a config and returns plain objects;
`tracking` logs a run to MLflow and registers its model; `promote` moves the champion alias.
Ground truth and a legacy-rules ranker come in as optional `pipeline.Baselines`.

May import: `riskscore.data`, `riskscore.features`, `riskscore.model`, `riskscore.registry`,
`riskscore.config`, `riskscore.errors`, MLflow (in `tracking` only).
"""
