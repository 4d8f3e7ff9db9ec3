"""Build the foreign example dataset: import declarations of a customs service that is not
Kazakhstan's, in that service's own layout (the Kyrgyz Republic here, home country KG).

Real declarations cannot be shipped, so this script makes them, deterministically (the same
--seed gives the same files). What makes it foreign to riskscore:

- import declarations only, one row per item line, semicolon-separated CSV;
- HS codes of six digits, written as numbers (a leading zero is lost: 010121 -> 10121);
- money in Kyrgyz som (KGS), converted to USD by a monthly rates table (rates.csv);
- dates without times (dd.mm.yyyy), in the Bishkek time zone;
- every line labelled (a `Fraud` flag of 0 or 1, known a month after the declaration);
- ten extra columns, numeric and categorical (tax rate, freight, packages, import type,
  payment type, ...), and codes riskscore does not know (country ZZ, transport code 90).

How fraud arises (so that a reader can judge what a model should find): some importers
cheat often (a fixed propensity, learned only from their history); cheating lines are
undervalued against the usual price of their goods and carry higher tax rates; new importers,
cash payments, import type 29 and goods dispatched from transshipment hubs cheat more.

    python docs/examples/foreign/build.py --out /tmp/foreign --lines 60000

writes declarations.csv and rates.csv, and copies the mapping (mapping.toml) beside them.
"""

from __future__ import annotations

import argparse
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

HUBS = ["AE", "TR", "HK", "CN"]
ORIGINS = ["CN", "DE", "US", "JP", "KR", "TR", "RU", "KZ", "IT", "ZZ"]
ORIGIN_P = [0.38, 0.1, 0.07, 0.05, 0.07, 0.1, 0.12, 0.07, 0.03, 0.01]
TRANSPORT = ["30", "20", "40", "10", "50", "90"]  # road, rail, air, sea, post, other
TRANSPORT_P = [0.62, 0.18, 0.1, 0.03, 0.05, 0.02]
CHPL = ["854231", "854232", "852691", "851762", "848210", "845710", "847150", "850440"]


def _goods(rng: np.random.Generator, count: int = 300) -> pd.DataFrame:
    """A catalogue of HS-6 codes with a usual price (som per kg) and a tax rate."""
    codes = set(CHPL)
    while len(codes) < count:
        codes.add(f"{rng.integers(1, 97):02d}{rng.integers(1, 100):02d}{rng.integers(10, 100):02d}")
    hs6 = sorted(codes)
    return pd.DataFrame({
        "hs6": hs6,
        "log_price": rng.normal(7.0, 1.6, len(hs6)),
        "tax_rate": rng.choice([0.0, 5.0, 10.0, 12.0, 15.0, 20.0], len(hs6)),
        "weight": rng.pareto(1.2, len(hs6)) + 0.2,
    })


def _importers(rng: np.random.Generator, count: int, start: date, days: int) -> pd.DataFrame:
    """Importers with a first day of trade, a size and a propensity to cheat."""
    cheat = rng.random(count) < 0.06
    return pd.DataFrame({
        "id": [f"KG{n:08d}" for n in rng.choice(10**8, count, replace=False)],
        "first_day": rng.integers(-400, days - 30, count),
        "size": rng.pareto(1.1, count) + 0.1,
        "propensity": np.where(cheat, rng.uniform(0.25, 0.6, count), rng.uniform(0.0, 0.03, count)),
    })


def build(lines: int, seed: int, start: date = date(2022, 1, 1), days: int = 912) -> pd.DataFrame:
    """About `lines` item lines of import declarations, with their labels."""
    rng = np.random.default_rng(seed)
    goods = _goods(rng)
    importers = _importers(rng, max(40, lines // 40), start, days)
    documents = int(lines / 1.6)
    who = rng.choice(len(importers), documents, p=importers["size"] / importers["size"].sum())
    first = np.maximum(importers["first_day"].to_numpy()[who], 0)
    day = first + (rng.random(documents) * (days - first)).astype(int)  # after its first day
    items = rng.choice([1, 2, 3], documents, p=[0.6, 0.2, 0.2])
    header = pd.DataFrame({
        "Declaration ID": [f"KG-IM-{n:08d}" for n in range(documents)],
        "day": day, "importer": who, "items": items,
        "Office": rng.choice(["41710", "41720", "41730", "41750", "41760"], documents),
        "Mode of Transport": rng.choice(TRANSPORT, documents, p=TRANSPORT_P),
        "Country of Departure": rng.choice(HUBS + ["DE", "KZ", "RU", "US"], documents,
                                           p=[0.15, 0.12, 0.05, 0.38, 0.08, 0.1, 0.1, 0.02]),
        "Process Type": rng.choice(["A", "B", "C"], documents, p=[0.7, 0.2, 0.1]),
        "Import Type": rng.choice(["11", "21", "29", "41"], documents, p=[0.55, 0.25, 0.12, 0.08]),
        "Import Use": rng.choice(["1", "2", "3"], documents, p=[0.5, 0.4, 0.1]),
        "Payment Type": rng.choice(["bank", "cash", "letter", "none"], documents,
                                   p=[0.7, 0.12, 0.13, 0.05]),
        "Courier ID": rng.choice([f"C{n:03d}" for n in range(25)], documents),
        "Declarant ID": rng.choice([f"BR{n:04d}" for n in range(120)], documents),
        "Seller ID": [f"S{n:07d}" for n in rng.integers(0, lines // 3, documents)],
        "Packages": rng.integers(1, 60, documents),
    })
    frame = header.loc[header.index.repeat(header["items"])].reset_index(drop=True)
    return _lines(rng, frame, goods, importers, start)


def _lines(rng: np.random.Generator, frame: pd.DataFrame, goods: pd.DataFrame,
           importers: pd.DataFrame, start: date) -> pd.DataFrame:
    n = len(frame)
    good = rng.choice(len(goods), n, p=goods["weight"] / goods["weight"].sum())
    importer = frame["importer"].to_numpy()
    first = importers["first_day"].to_numpy()[importer]
    new = (frame["day"].to_numpy() - first) < 90
    hub = frame["Country of Departure"].isin(HUBS).to_numpy()
    tax = goods["tax_rate"].to_numpy()[good]
    logit = (np.log(importers["propensity"].to_numpy()[importer] + 0.005) + 0.7 * new
             + 0.5 * hub + 0.6 * (frame["Payment Type"] == "cash").to_numpy()
             + 0.5 * (frame["Import Type"] == "29").to_numpy() + 0.04 * tax
             + 0.6 * np.isin(goods["hs6"].to_numpy()[good], CHPL))
    fraud = rng.random(n) < 1 / (1 + np.exp(-(logit + 0.3)))
    kg = np.round(np.exp(rng.normal(4.0, 1.5, n)), 2)
    price = np.exp(goods["log_price"].to_numpy()[good] + rng.normal(0, 0.35, n)
                   - fraud * rng.uniform(0.3, 1.2, n))
    origin = rng.choice(ORIGINS, n, p=ORIGIN_P)
    days = frame["day"].to_numpy()
    return pd.DataFrame({
        "Declaration ID": frame["Declaration ID"],
        "Date": [(start + timedelta(days=int(d))).strftime("%d.%m.%Y") for d in days],
        "Office": frame["Office"], "Process Type": frame["Process Type"],
        "Import Type": frame["Import Type"], "Import Use": frame["Import Use"],
        "Payment Type": frame["Payment Type"], "Mode of Transport": frame["Mode of Transport"],
        "Declarant ID": frame["Declarant ID"],
        "Importer ID": importers["id"].to_numpy()[importer],
        "Seller ID": frame["Seller ID"], "Courier ID": frame["Courier ID"],
        "HS6 Code": goods["hs6"].astype(int).to_numpy()[good],
        "Country of Departure": frame["Country of Departure"], "Country of Origin": origin,
        "Tax Rate": tax, "Tax Type": np.where(tax > 0, "A", "FEU1"),
        "Origin Indicator": rng.choice(["G", "B", "E"], n, p=[0.8, 0.15, 0.05]),
        "Net Mass": kg, "Gross Mass": np.round(kg * rng.uniform(1.0, 1.15, n), 2),
        "Item Price": np.round(price * kg, 2),
        "Freight": np.round(kg * rng.uniform(5, 40, n), 2),
        "Packages": frame["Packages"],
        "Fraud": fraud.astype(int),
    })


def rates(start: date = date(2021, 12, 1), months: int = 32, seed: int = 1) -> pd.DataFrame:
    """Monthly USD per som, a slow drift around 1/85."""
    rng = np.random.default_rng(seed)
    level = 1 / 85 * np.exp(np.cumsum(rng.normal(0, 0.01, months)))
    days = pd.date_range(start, periods=months, freq="MS").strftime("%Y-%m-%d")
    return pd.DataFrame({"date": days, "currency": "KGS", "usd_per_unit": level.round(8)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--lines", type=int, default=60_000, help="item lines, about")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    declarations = build(args.lines, args.seed)
    declarations.to_csv(args.out / "declarations.csv", sep=";", index=False)
    rates().to_csv(args.out / "rates.csv", index=False)
    shutil.copy(Path(__file__).with_name("mapping.toml"), args.out / "mapping.toml")
    print(f"wrote {len(declarations):,} lines of {declarations['Declaration ID'].nunique():,} "
          f"declarations to {args.out / 'declarations.csv'} (fraud share "
          f"{declarations['Fraud'].mean():.3f})")


if __name__ == "__main__":
    main()
