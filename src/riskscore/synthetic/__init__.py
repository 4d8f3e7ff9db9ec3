"""The synthetic world: a simulated Kazakhstan of firms, document chains and inspections.

It writes a dataset folder in the schema's layout (`riskscore.schema`) plus the ground truth
(`truth.parquet`) and the generator's own legacy-rule model (`inspections.rule_probability`),
which evaluation may take as its legacy-rules baseline. Only the CLI, the benchmarks and the
tests import this package; nothing in `data/`, `features/`, `store/`, `training/`, `report/` or
`service/` may, so that a user's own data goes through exactly the same code.

May import: `riskscore.schema`, `riskscore.reference`, `riskscore.errors`, `riskscore.data`.
"""

from __future__ import annotations

from riskscore.synthetic.generate import generate, is_world
from riskscore.synthetic.inspections import legacy_rules
from riskscore.synthetic.world import WorldConfig

__all__ = ["WorldConfig", "generate", "is_world", "legacy_rules"]
