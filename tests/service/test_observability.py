"""What operators see: JSON access lines without document content, Prometheus metrics (also
added up over several processes), and shedding beyond the requests in flight."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from riskscore.service.access import Templates
from riskscore.service.logs import ACCESS, JsonFormatter, Proxies
from riskscore.service.metrics import Metrics
from riskscore.service.shedding import Shedding

REQUEST = Path(__file__).resolve().parents[2] / "service" / "examples" / "score_request.json"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def test_metrics_count_requests_channels_stages_and_the_model(client: TestClient) -> None:
    answer = client.post("/v1/score", json=json.loads(REQUEST.read_text())).json()
    client.post("/v1/score", json=json.loads(REQUEST.read_text()))  # the stored answer again
    client.get("/v1/score")  # 405
    found = _samples(client.get("/metrics").text)
    ok = (("method", "POST"), ("route", "/v1/score"), ("status", "200"))
    assert found[("riskscore_requests_total", ok)] == 2
    assert found[("riskscore_requests_total", (("method", "GET"), ("route", "/v1/score"),
                                               ("status", "405")))] == 1  # fmt: skip
    assert found[("riskscore_documents_total", (("channel", answer["channel"]),))] == 1
    assert found[("riskscore_stage_seconds_count", (("stage", "features"),))] == 1
    assert found[("riskscore_request_seconds_count", (("route", "/v1/score"),
                                                      ("status", "200")))] == 2  # fmt: skip
    assert found[("riskscore_random_draws_total", ())] == 0
    served = [k for k, v in found.items() if k[0] == "riskscore_model_info" and v == 1]
    assert len(served) == 1 and ("version", answer["model_version"]) in served[0][1]
    assert found[("riskscore_state_rows", (("table", "lines"),))] > 1_000


def test_several_processes_add_up_in_multiprocess_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two worker processes write their values; any process's /metrics shows the sums."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for count in (3, 2):
        worker = ("from riskscore.service.metrics import Metrics; m = Metrics(); "
                  f"m.requests.labels('/v1/score', 'POST', '200').inc({count}); "
                  "m.shed.labels('/v1/score').inc()")  # fmt: skip
        subprocess.run([sys.executable, "-c", worker], check=True, env=os.environ.copy())
    endpoint = Metrics().endpoint(lambda: {"lines": 7})
    text = endpoint(None).body.decode()  # type: ignore[arg-type]
    found = _samples(text)
    ok = (("method", "POST"), ("route", "/v1/score"), ("status", "200"))
    assert found[("riskscore_requests_total", ok)] == 5
    assert found[("riskscore_shed_requests_total", (("route", "/v1/score"),))] == 2
    assert found[("riskscore_state_rows", (("table", "lines"),))] == 7


def test_an_access_line_is_json_and_never_holds_the_document(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.loads(REQUEST.read_text())
    with caplog.at_level(logging.INFO, logger=ACCESS):
        client.post("/v1/score", json=body, headers={"X-Request-ID": "r-1",
                                                     "X-Forwarded-For": "6.6.6.6"})  # fmt: skip
    [record] = [r for r in caplog.records if r.name == ACCESS]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r-1" and line["route"] == "/v1/score" and line["status"] == 200
    assert line["caller"] == "customs-test" and len(line["key_id"]) == 16
    assert line["channel"] in {"green", "yellow", "red"} and line["model_version"]
    assert line["latency_ms"] > 0 and line["client"] != "6.6.6.6"  # not a trusted proxy
    text = json.dumps(line)
    for value in (
        body["items"][0]["description"],
        body["consignee_id"],
        body["items"][0]["hs_code"],
    ):
        assert value not in text


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [("10.0.0.5", "6.6.6.6", "10.0.0.5"), ("192.168.1.2", "6.6.6.6", "6.6.6.6"),
     ("192.168.1.2", "6.6.6.6, 7.7.7.7", "7.7.7.7"), ("192.168.1.2", "7.7.7.7, 192.168.1.3",
     "7.7.7.7"), ("192.168.1.2", "not-an-ip", "192.168.1.2"), ("192.168.1.2", "", "192.168.1.2")],
    ids=["untrusted-peer", "trusted-proxy", "right-most", "proxy-chain", "garbage", "none"],
)  # fmt: skip
def test_forwarded_for_is_believed_from_trusted_proxies_only(
    peer: str, forwarded: str, client: str
) -> None:
    assert Proxies(["192.168.1.0/24"]).client(peer, forwarded) == client


class _Held:
    """An app whose requests wait until released: what `Shedding` sees as in flight."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] != "/livez":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _call(app: Any, path: str) -> tuple[int, dict[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "method": "POST", "headers": []}, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"])


def test_requests_beyond_the_bound_are_shed_at_once_and_counted() -> None:
    async def run() -> list[tuple[int, dict[bytes, bytes]]]:
        held, metrics = _Held(), Metrics()
        shedding = Shedding(held, most=2, retry_after=3, metrics=metrics, templates=Templates([]))
        working = [asyncio.create_task(_call(shedding, "/v1/score")) for _ in range(2)]
        await asyncio.sleep(0.01)
        shed = [await _call(shedding, "/v1/score") for _ in range(3)]  # answered while held
        live = await _call(shedding, "/livez")  # never shed
        held.release.set()
        done = [await task for task in working]
        after = await _call(shedding, "/v1/score")  # room again
        found = _samples(metrics.endpoint(lambda: {})(None).body.decode())  # type: ignore[arg-type]
        assert found[("riskscore_shed_requests_total", (("route", "unmatched"),))] == 3
        return [*shed, live, *done, after]

    statuses = asyncio.run(run())
    assert [s for s, _ in statuses] == [503, 503, 503, 200, 200, 200, 200]
    assert statuses[0][1][b"retry-after"] == b"3"


def test_the_event_loop_answers_while_a_document_is_scored(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring runs off the event loop (on a SQLite state too): /livez is answered while a
    document is being scored. The scoring waits for /livez's answer, so if both shared one
    thread /livez would wait for the scoring's wait to run out (30 s) and the test fail."""
    scorer = client.app.state.scorer  # type: ignore[attr-defined]
    score, entered, answered = scorer.score, threading.Event(), threading.Event()
    waited: list[bool] = []

    def slow(*args: object) -> object:
        entered.set()
        waited.append(answered.wait(timeout=30))
        return score(*args)

    monkeypatch.setattr(scorer, "score", slow)
    with ThreadPoolExecutor(1) as pool:
        scoring = pool.submit(client.post, "/v1/score", json=json.loads(REQUEST.read_text()))
        assert entered.wait(timeout=30)
        assert client.get("/livez").status_code == 200
        answered.set()
        assert scoring.result().status_code == 200
    assert waited == [True]
