from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskscore.cli import app
from riskscore.cli import serve as serve_command

runner = CliRunner()
RISKSCORE = str(Path(sys.executable).with_name("riskscore"))


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--start", "2024-13-01"], "--start"),
        (["--start", "2024-01-01", "--end", "2023-01-01"], "end must be after start"),
        (["--firms", "3"], "--firms"),
        (["--random-share", "1.5"], "--random_inspection_share"),
    ],
    ids=["bad-date", "end-before-start", "too-few-firms", "share-above-one"],
)
def test_generate_refuses_bad_arguments(tmp_path: Path, args: list[str], named: str) -> None:
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "w"), *args])
    assert result.exit_code == 2
    assert named in result.output
    assert not (tmp_path / "w").exists()


def test_generate_validate_describe(tmp_path: Path) -> None:
    out = tmp_path / "w"
    result = runner.invoke(app, ["generate", "--out", str(out), "--firms", "120", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "documents" in result.output
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
    described = runner.invoke(app, ["describe", str(out)])
    assert described.exit_code == 0
    assert "evasion share of lines" in described.output


def test_validate_reports_a_bad_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "documents.parquet: missing" in result.output


def test_serve_hands_uvicorn_an_app_factory_that_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from fastapi import FastAPI
    from uvicorn.importer import import_from_string

    seen: dict[str, object] = {}
    monkeypatch.setattr(
        uvicorn, "run", lambda target, **options: seen.update(target=target, **options)
    )
    monkeypatch.setattr(serve_command, "_preflight", lambda settings: None)
    result = runner.invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert seen["factory"] is True and seen["port"] == 8123 and seen["host"] == "127.0.0.1"
    factory = import_from_string(str(seen["target"]))
    assert isinstance(factory(), FastAPI)  # building the app reads no model: that is lifespan's


def test_generate_will_not_replace_a_folder_that_is_not_a_world(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = runner.invoke(app, ["generate", "--out", str(tmp_path), "--firms", "60"])
    assert result.exit_code == 2
    assert "holds something other than a world" in result.output
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_serve_without_a_champion_fails_with_one_line(tmp_path: Path) -> None:
    """Run as a user would, from a folder that is not the project."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run(
        [RISKSCORE, "serve", "--port", "8124"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: no model registry at {tmp_path / 'models' / 'mlflow.db'}: train and promote a "
        "model first (or set RISKSCORE_MODELS_DIR)"
    ]
    assert not (tmp_path / "models").exists()  # nothing was created
