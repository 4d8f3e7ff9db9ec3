"""`riskscore ingest`: a foreign layout into the schema, with its problems listed or dropped."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from riskscore.data import load_world, validate
from riskscore.data.ingest import REJECTS, REPORT, ingest
from riskscore.data.mapping import load_mapping
from riskscore.errors import ConfigError, DatasetError


def test_the_foreign_example_becomes_a_valid_dataset(
    foreign_files: Path, foreign_dataset: Path
) -> None:
    source = pd.read_csv(foreign_files / "declarations.csv", sep=";", dtype=str)
    world = load_world(foreign_dataset)
    documents = world.documents
    assert len(documents) == len(source) and validate(foreign_dataset).ok
    assert world.info.home_country == "KG" and len(world.info.extras) == 10
    assert set(documents["flow"]) == {"import"}  # derived: consignee in the home country
    assert documents["hs_code"].str.len().eq(6).all()
    padded = source["HS6 Code"].str.len() < 6
    assert padded.any() and documents.loc[padded.to_numpy(), "hs_code"].str.startswith("0").all()
    # Dates without times, in Bishkek (UTC+6): midnight there is 18:00 UTC the day before.
    assert (documents["issued_at"].dt.hour == 18).all()
    som = pd.to_numeric(source["Item Price"])
    assert (documents["value_usd"] / som).between(1 / 100, 1 / 70).all()
    assert documents["extra.import_type"].isin(["11", "21", "29", "41"]).all()
    assert documents["extra.tax_rate"].dtype == "float64"
    outcomes = world.outcomes
    assert outcomes is not None and len(outcomes) == len(documents)  # every line labelled
    lag = outcomes["recorded_at"] - outcomes["inspected_at"]
    assert (lag == pd.Timedelta(days=30)).all()
    assert outcomes["violation_found"].sum() == (source["Fraud"] == "1").sum()
    report = json.loads((foreign_dataset / REPORT).read_text())
    assert report["validation"]["ok"] and report["ingest"]["dropped"] == {"documents": 0}
    assert report["validation"]["unknown_values"]["documents.parquet transport_mode"] > 0


def _spoiled(foreign_files: Path, tmp_path: Path) -> Path:
    rows = pd.read_csv(foreign_files / "declarations.csv", sep=";", dtype=str, nrows=300)
    rows.loc[3, "Date"] = "31.02.2023"
    rows.loc[7, "Net Mass"] = "heavy"
    rows.loc[9, "Item Price"] = "-5"
    path = tmp_path / "declarations.csv"
    rows.to_csv(path, sep=";", index=False)
    return path


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_bad_rows_stop_the_ingest_and_leave_the_folder_as_it_was(
    foreign_files: Path, foreign_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "kg"
    mapping = load_mapping(foreign_files / "mapping.toml")
    ingest([foreign_files / "declarations.csv"], mapping, out)
    before = _digest(out)
    with pytest.raises(DatasetError) as caught:
        ingest([_spoiled(foreign_files, tmp_path)], mapping, out)
    where = {(p.row, p.column) for p in caught.value.problems}
    assert {(3, "issued_at"), (7, "net_mass_kg"), (9, "value_usd")} <= where
    assert "heavy" not in str(caught.value) and "31.02" not in str(caught.value)
    assert _digest(out) == before


def test_drop_writes_the_rest_and_the_rejects_with_their_reasons(
    foreign_files: Path, tmp_path: Path
) -> None:
    mapping = load_mapping(foreign_files / "mapping.toml")
    result = ingest([_spoiled(foreign_files, tmp_path)], mapping, tmp_path / "kg", "drop")
    assert result.dropped == {"documents": 3} and result.kept == {"documents": 297}
    rejects = pd.read_csv(tmp_path / "kg" / REJECTS, dtype=str)
    assert rejects["_row"].tolist() == ["3", "7", "9"]
    assert "net_mass_kg: is not a number" in rejects.loc[1, "_problems"]
    assert validate(tmp_path / "kg").ok


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda t: t.replace('hs_code = { column = "HS6 Code"', 'hs_code = { column = "HS"'), "HS"),
        (lambda t: t.replace('description = "goods"\n', ""), "description"),
        (lambda t: t.replace('kind = "numeric" }', 'kind = "number" }', 1), "kind"),
        (lambda t: t.replace('home_country = "KG"', 'home_country = "Kyrgyzstan"'), "home_country"),
    ],
    ids=["missing-source-column", "field-without-source", "bad-kind", "bad-home-country"],
)
def test_a_mapping_that_does_not_fit_is_one_error_naming_the_key(
    foreign_files: Path, tmp_path: Path, edit: object, named: str
) -> None:
    text = (foreign_files / "mapping.toml").read_text()
    path = tmp_path / "mapping.toml"
    path.write_text(edit(text))  # type: ignore[operator]
    (tmp_path / "rates.csv").write_bytes((foreign_files / "rates.csv").read_bytes())
    with pytest.raises(ConfigError, match=named):
        ingest([foreign_files / "declarations.csv"], load_mapping(path), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_parquet_and_json_lines_sources_give_the_same_dataset(
    foreign_files: Path, tmp_path: Path
) -> None:
    rows = pd.read_csv(foreign_files / "declarations.csv", sep=";", dtype=str, nrows=500)
    rows.to_parquet(tmp_path / "part.parquet")
    rows.to_json(tmp_path / "part.jsonl", orient="records", lines=True)
    mapping = load_mapping(foreign_files / "mapping.toml")
    mapping = mapping.model_copy(update={"source": mapping.source.model_copy(
        update={"format": None})})  # fmt: skip
    frames = []
    for name in ("part.parquet", "part.jsonl"):
        ingest([tmp_path / name], mapping, tmp_path / name.replace(".", "_"))
        frames.append(load_world(tmp_path / name.replace(".", "_")).documents)
    pd.testing.assert_frame_equal(frames[0], frames[1])
