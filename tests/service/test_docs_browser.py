"""The API docs in a real browser with no way out to the internet: headless Chromium loads
/docs and /redoc from the service alone and shows the operations.

Marked `browser` (part of `make test`; alone with `make test-browser`): Chromium is installed
here when missing (apt-get, as root), which takes a minute on a fresh machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from riskscore.config import Settings
from riskscore.model import RiskModel
from riskscore.service import create_app
from riskscore.store import SqliteStore

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {"stdout": subprocess.DEVNULL, "check": True, "timeout": 600}
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, **quiet)  # type: ignore[call-overload]
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, **quiet)  # type: ignore[call-overload]
        found = shutil.which("chromium")
    if found is None:
        pytest.fail("Chromium is missing and cannot be installed here (not root or no apt-get)")
    return found


@pytest.fixture
def url(store: SqliteStore, model: RiskModel, settings: Settings) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(create_app(settings, model=model, store=store),
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _rendered(chromium: str, page: str) -> str:
    """The page's DOM after its scripts ran, with every host but 127.0.0.1 unreachable."""
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         "--virtual-time-budget=20000", "--dump-dom", page],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return out.stdout


def test_swagger_ui_shows_every_operation_offline(chromium: str, url: str) -> None:
    dom = _rendered(chromium, f"{url}/docs")
    assert "opblock" in dom  # Swagger UI rendered operations, not a blank page
    for path in ("/v1/score", "/v1/score/batch", "/v1/outcomes", "/v1/firms",
                 "/v1/answers/{document_id}", "/v1/admin/reload", "/version"):  # fmt: skip
        assert f'data-path="{path}"' in dom, path


def test_redoc_shows_the_operations_offline(chromium: str, url: str) -> None:
    dom = _rendered(chromium, f"{url}/redoc")
    assert "Score one document" in dom and "Record inspection results" in dom
