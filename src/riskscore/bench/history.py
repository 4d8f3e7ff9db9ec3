"""Benchmark: does a served document cost the same whatever its firm's history?

    python -m riskscore.bench.history                      # 100 against 200,000 lines, SQLite
    python -m riskscore.bench.history --big 50000 200000   # several sizes, one run
    python -m riskscore.bench.history --state-url postgresql://postgres@127.0.0.1:5432/test

Builds, in one state, a small firm with 100 lines of history and one large firm per size
asked (imports from abroad and sales to many Kazakh buyers, over the year before), then
scores new sales of each firm through the service's own `Scorer` (the champion model, the
real store), interleaved, and prints each firm's latency (median, p90, p99) and the ratio to
the small firm's. Needs a champion (`make model`). Times are of this machine and noisy; the
ratios, taken in the same run, are the figure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from riskscore import registry
from riskscore.config import Settings
from riskscore.schema import DOCUMENT_COLUMNS, document_from_rows
from riskscore.service.runtime import ModelRuntime
from riskscore.service.scoring import Scorer
from riskscore.store import Store, open_store

START = pd.Timestamp("2023-01-01", tz="UTC")
CODES = ("8542310000", "8542390000", "8517620000", "8471300000", "8482100000")


def history(firm: str, lines: int, seed: int) -> pd.DataFrame:
    """A firm's year: imports (one line each) and sales to 500 Kazakh buyers, half and half."""
    rng = np.random.default_rng(seed)
    when = START + pd.to_timedelta(np.sort(rng.uniform(0, 360 * 86_400, lines)), unit="s")
    importing = np.arange(lines) % 2 == 0
    buyers = np.array([f"{9_000_000_000 + b:012d}" for b in range(500)], dtype=object)
    frame = pd.DataFrame({
        "document_id": [f"{firm}-H{n:07d}" for n in range(lines)],
        "doc_type": np.where(importing, "DT", "ESF"),
        "flow": np.where(importing, "import", "domestic"),
        "procedure_code": np.where(importing, "40", ""),
        "issued_at": when, "office": "", "declarant_id": firm,
        "consignor_id": np.where(importing, "CN0000000001", firm),
        "consignor_country": np.where(importing, "CN", "KZ"),
        "consignee_id": np.where(importing, firm, buyers[rng.integers(0, 500, lines)]),
        "consignee_country": "KZ", "dispatch_country": np.where(importing, "CN", "KZ"),
        "destination_country": "KZ", "transport_mode": "road", "invoice_currency": "USD",
        "previous_document_ids": [[] for _ in range(lines)], "item_no": 1,
        "hs_code": np.array(CODES, dtype=object)[rng.integers(0, len(CODES), lines)],
        "description": "goods", "origin_country": "CN", "net_mass_kg": 10.0,
        "gross_mass_kg": 11.0, "supplementary_qty": rng.integers(5, 50, lines).astype(float),
        "supplementary_unit": "pcs", "value_usd": rng.uniform(500, 5_000, lines),
        "linked_document_id": None, "linked_item_no": np.nan,
    })  # fmt: skip
    frame["issued_at"] = frame["issued_at"].astype("datetime64[us, UTC]")
    return frame[list(DOCUMENT_COLUMNS)]


def sale(firm: str, n: int, at: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    """A new ESF of the firm, of one to three lines."""
    items = int(rng.integers(1, 4))
    lines = history(firm, 2, int(rng.integers(1 << 30))).iloc[[1] * items].copy()
    lines["document_id"] = f"{firm}-N{n:05d}"
    lines["issued_at"] = at
    lines["item_no"] = np.arange(1, items + 1)
    lines["hs_code"] = np.array(CODES, dtype=object)[rng.integers(0, len(CODES), items)]
    return lines


def measure(
    store: Store, runtime: ModelRuntime, firms: list[str], rounds: int
) -> dict[str, list[float]]:
    """Milliseconds per scored document, per firm, the firms taking turns."""
    scorer = Scorer(runtime, store, Settings(random_share=0.0))
    rng = np.random.default_rng(3)
    spent: dict[str, list[float]] = {f: [] for f in firms}
    at = START + pd.Timedelta(days=365)
    for n in range(rounds):
        for firm in firms:
            at += pd.Timedelta(seconds=7)
            document = document_from_rows(sale(firm, n, at, rng))
            began = time.perf_counter()
            scorer.score(document)
            spent[firm].append((time.perf_counter() - began) * 1_000)
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, nargs="+", default=[200_000], help="history lines")
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=300, help="documents scored per firm")
    parser.add_argument("--state-url", help="a PostgreSQL state (default: a SQLite file)")
    args = parser.parse_args()
    settings = Settings()
    client = registry.connect(settings.models_dir, create=False)
    champion = registry.require(client, settings.model_name, "champion", "run `make model`")
    runtime = ModelRuntime(registry.load_model(champion), settings.model_name, "champion")
    firms = {"small": args.small} | {f"big-{n}": n for n in args.big}
    ids = {name: f"{100_000_000_000 + i:012d}" for i, name in enumerate(firms)}
    frames = [history(ids[name], n, i) for i, (name, n) in enumerate(firms.items())]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(args.state_url or f"sqlite:///{Path(tmp) / 'state.db'}")
        began = time.perf_counter()
        store.load(pd.concat(frames, ignore_index=True), None, None)
        print(
            f"state of {sum(firms.values()):,} lines built in {time.perf_counter() - began:.0f} s"
        )
        spent = measure(store, runtime, list(ids.values()), args.rounds)
        store.close()
    base = statistics.median(spent[ids["small"]])
    print(f"{'firm history':>14} {'median ms':>10} {'p90 ms':>8} {'p99 ms':>8} {'x small':>8}")
    for name, lines in firms.items():
        times = sorted(spent[ids[name]][10:])  # the first few warm the caches
        median = statistics.median(times)
        p90, p99 = _quantile(times, 0.9), _quantile(times, 0.99)
        print(f"{lines:>14,} {median:>10.2f} {p90:>8.2f} {p99:>8.2f} {median / base:>8.2f}")


def _quantile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


if __name__ == "__main__":
    main()
