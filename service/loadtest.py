"""Load test of the scoring service on loopback.

    .venv/bin/python service/loadtest.py --rate 100 --requests 1500
    .venv/bin/python service/loadtest.py --rate 600 --requests 6000 --workers 1   # overload
    .venv/bin/python service/loadtest.py --auth-cost                               # µs per key
    .venv/bin/python service/loadtest.py --outcome-cost                            # ms per batch
    .venv/bin/python service/loadtest.py --audit-cost               # audit and shadow, in process
    RISKSCORE_SHADOW_ALIAS=champion .venv/bin/python service/loadtest.py --workers 1  # shadowed

Needs `make model` first (the demo world in data/world and a champion under models/).
For each worker count it: copies a state warmed with one year of the demo world (2023),
starts `riskscore serve` on 127.0.0.1, and from a separate process sends single documents of
1-5 items from 2024 in time order, open loop at `--rate` per second (latency is measured from
each request's scheduled send time, so queueing counts). Before the timed run it opens its
connections and scores 50 documents of December 2023 that the state already holds (not
counted). Every request carries an API key (`score` role) made in the copied state, as a
calling system's would. It prints p50/p90/p99/max latency of the answered requests, achieved
throughput, the requests shed (503) and how fast they were refused, errors, /livez polled
every 100 ms during the run, and the mean time of each server stage from the Server-Timing
header (LOADTEST_RAW=prefix also saves every result). `--auth-cost` instead times the key
check alone, from the per-process cache and from the state. Loopback only; the request count
and a time limit bound every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import httpx2 as httpx
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RISKSCORE = ROOT / ".venv" / "bin" / "riskscore"


def bodies(world: Path, start: str, count: int) -> list[bytes]:
    """JSON bodies of the first `count` documents of 1-5 items issued from `start` on."""
    from riskscore.data import load_world
    from riskscore.schema import document_from_rows

    d = load_world(world, check=False, with_truth=False).documents
    d = d[d["issued_at"] >= pd.Timestamp(start, tz="UTC")].sort_values(
        ["issued_at", "document_id", "item_no"]
    )
    sizes = d.groupby("document_id")["item_no"].transform("size")
    out = []
    for _, lines in d[sizes <= 5].groupby("document_id", sort=False):
        out.append(document_from_rows(lines).model_dump_json().encode())
        if len(out) == count:
            break
    return out


def warm_state(world: Path, folder: Path, start: str, end: str) -> Path:
    """A state holding the documents of [start, end) and the outcomes recorded in it."""
    from riskscore.data import load_world
    from riskscore.store import SqliteStore, load_history

    w = load_world(world, check=False, with_truth=False)
    d, o = w.documents, w.outcomes
    first, last = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    d = d[(d["issued_at"] >= first) & (d["issued_at"] < last)]
    assert o is not None
    o = o[
        (o["recorded_at"] >= first)
        & (o["recorded_at"] < last)
        & o["document_id"].isin(d["document_id"])
    ]
    state = SqliteStore(folder / "state.db")
    load_history(state, d, o, w.firms)
    state.close()
    return folder / "state.db"


class _Pool:
    """Keep-alive HTTP/1.1 connections over plain asyncio streams: a client that costs little
    CPU, so that on a 2-core machine the server, not the load generator, is what is measured.
    The most recently used connection goes first; one idle for longer than the server keeps
    it (uvicorn: 5 s) is opened again before use, as an HTTP client library would."""

    IDLE = 4.0  # seconds

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self._free: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()

    async def open(self) -> None:
        for _ in range(self.size):
            self._free.put_nowait(await self._connect())

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer, time.monotonic())

    async def request(self, method: str, path: str, body: bytes, headers: str) -> tuple[int, str]:
        """(status, Server-Timing header) of one request."""
        connection = await self._free.get()
        if time.monotonic() - connection.used > self.IDLE:
            connection.writer.close()
            connection = await self._connect()
        reader, writer = connection.reader, connection.writer
        try:
            writer.write(f"{method} {path} HTTP/1.1\r\nhost: {self.host}\r\n{headers}"
                         f"content-length: {len(body)}\r\n\r\n".encode() + body)  # fmt: skip
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            fields = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
            await reader.readexactly(int(fields.get("content-length", "0")))
            return int(head[0].split()[1]), fields.get("server-timing", "")
        finally:
            self._free.put_nowait(_Connection(reader, writer, time.monotonic()))

    def close(self) -> None:
        while not self._free.empty():
            self._free.get_nowait().writer.close()


class _Connection(NamedTuple):
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    used: float  # time.monotonic() when last used


async def _send(
    url: str, payloads: list[bytes], rate: float, key: str, warmup: list[bytes]
) -> dict[str, list[dict[str, object]]]:
    results: list[dict[str, object]] = []
    live: list[dict[str, object]] = []
    host, port = url.removeprefix("http://").split(":")
    # Enough connections that the client never queues a request the server could refuse.
    pool, probe = _Pool(host, int(port), 256), _Pool(host, int(port), 1)
    await pool.open()
    await probe.open()
    headers = f"content-type: application/json\r\nauthorization: Bearer {key}\r\n"
    # Not timed: score a few documents the state already holds, so that first-call costs on
    # either side are not counted as latency.
    for body in warmup:
        await pool.request("POST", "/v1/score", body, headers)
    began = time.perf_counter()
    span = len(payloads) / rate

    async def one(i: int, body: bytes) -> None:
        due = began + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        try:
            status, timing = await pool.request("POST", "/v1/score", body, headers)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            status, timing = type(error).__name__, ""  # type: ignore[assignment]
        results.append({"latency_ms": (time.perf_counter() - due) * 1_000, "status": status,
                        "timing": timing, "done": time.perf_counter() - began})  # fmt: skip

    async def poll_livez() -> None:
        while time.perf_counter() - began < span:
            sent = time.perf_counter()
            try:
                status: object = (await probe.request("GET", "/livez", b"", ""))[0]
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                status = type(error).__name__
            live.append({"latency_ms": (time.perf_counter() - sent) * 1_000, "status": status})
            await asyncio.sleep(0.1)

    await asyncio.gather(poll_livez(), *(one(i, b) for i, b in enumerate(payloads)))
    pool.close()
    probe.close()
    return {"scores": results, "livez": live}


def _load(
    url: str, payloads: list[bytes], rate: float, out: str, key: str, warmup: list[bytes]
) -> None:
    Path(out).write_text(json.dumps(asyncio.run(_send(url, payloads, rate, key, warmup))))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def score_key(state_url: str) -> str:
    """A new key with the `score` role, stored in the state at `state_url`, as `riskscore keys
    add` makes."""
    from riskscore.service.auth import Role, new_key
    from riskscore.store import open_store

    made = new_key("loadtest", [Role.SCORE])
    store = open_store(state_url)
    store.add_key(made.record)
    store.close()
    return made.key


def run(
    workers: int, state: Path, payloads: list[bytes], rate: float, models: Path,
    warmup: list[bytes], in_flight: int,
) -> dict[str, object]:  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(state, Path(tmp) / "state.db")
        key = score_key(f"sqlite:///{Path(tmp) / 'state.db'}")
        port = _free_port()
        env = os.environ | {"RISKSCORE_DATA_DIR": tmp, "RISKSCORE_MODELS_DIR": str(models),
                            "OMP_NUM_THREADS": "1", "RISKSCORE_MAX_IN_FLIGHT": str(in_flight),
                            "RISKSCORE_RANDOM_SECRET": secrets.token_hex(32),
                            "RISKSCORE_RELOAD_EVERY_SECONDS": "0"}  # fmt: skip
        server = subprocess.Popen(
            [str(RISKSCORE), "serve", "--port", str(port), "--workers", str(workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            out = Path(tmp) / "results.json"
            loader = multiprocessing.get_context("spawn").Process(
                target=_load, args=(url, payloads, rate, str(out), key, warmup)
            )
            loader.start()
            loader.join(timeout=len(payloads) / rate + 180)
            if loader.is_alive():
                loader.terminate()
            found = json.loads(out.read_text()) if out.exists() else {"scores": [], "livez": []}
        finally:
            server.terminate()
            server.wait(timeout=30)
    if raw := os.environ.get("LOADTEST_RAW"):
        Path(f"{raw}.{workers}.json").write_text(json.dumps(found))
    return summarise(found["scores"], workers, rate) | {
        "shed": _latencies([r for r in found["scores"] if r["status"] == 503]),
        "livez": _latencies(found["livez"]) | {
            "failed": sum(r["status"] != 200 for r in found["livez"])},
    }  # fmt: skip


def _latencies(results: list[dict[str, object]]) -> dict[str, float]:
    ms = sorted(float(r["latency_ms"]) for r in results)  # type: ignore[arg-type]
    if not ms:
        return {"count": 0}
    return {"count": len(ms), "p50_ms": ms[len(ms) // 2],
            "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))], "max_ms": ms[-1]}  # fmt: skip


def summarise(results: list[dict[str, object]], workers: int, rate: float) -> dict[str, object]:
    ok = [r for r in results if r["status"] == 200]
    errors = [r for r in results if r["status"] not in (200, 503)]
    latency = sorted(float(r["latency_ms"]) for r in ok)  # type: ignore[arg-type]
    stages: dict[str, list[float]] = {}
    for r in ok:
        for part in str(r["timing"]).split(","):
            if ";dur=" in part:
                name, ms = part.strip().split(";dur=")
                stages.setdefault(name, []).append(float(ms))
    span = max((float(r["done"]) for r in results), default=1.0)  # type: ignore[arg-type]
    pct = (
        (lambda q: latency[min(len(latency) - 1, int(q * len(latency)))])
        if latency
        else (lambda q: float("nan"))
    )
    return {"workers": workers, "rate": rate, "sent": len(results), "ok": len(ok),
            "errors": len(errors),
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99),
            "max_ms": latency[-1] if latency else float("nan"), "throughput": len(ok) / span,
            "stages_ms": {k: statistics.mean(v) for k, v in stages.items()}}  # fmt: skip


def auth_cost(calls: int = 100_000) -> None:
    """Microseconds the key check costs a request: from the per-process cache (the usual
    case) and from the state (the first request of a key in each cache period)."""
    from riskscore.service.auth import Keyring, Role, new_key
    from riskscore.store import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "state.db")
        made = new_key("loadtest", [Role.SCORE])
        store.add_key(made.record)
        for ttl, label, count in ((5.0, "cached", calls), (0.0, "from the state", calls // 10)):
            keyring = Keyring(store, ttl=ttl)
            assert keyring.caller(made.key) is not None
            began = time.perf_counter()
            for _ in range(count):
                keyring.caller(made.key)
            print(f"key check, {label}: {(time.perf_counter() - began) / count * 1e6:.1f} µs")
        store.close()


def audit_cost(world: Path, models: Path, count: int = 1_200) -> None:
    """Milliseconds the audit record and the shadow score add to a document scored in
    process (no HTTP) on a SQLite state warmed with 2023: documents of 2024 in time order, in
    blocks of 50 that take turns between plain, audited and audited + shadowed scoring (the
    challenger being the champion loaded again: the same cost as any model of its size);
    then how fast `audit verify` reads the log."""
    import contextlib

    from riskscore import registry
    from riskscore.config import Settings
    from riskscore.schema import Document
    from riskscore.service.runtime import ModelRuntime
    from riskscore.service.scoring import Scorer
    from riskscore.store import SqliteStore

    settings = Settings(models_dir=models, random_share=0.0)
    client = registry.connect(models, create=False)
    champion = registry.require(client, settings.model_name, "champion", "run `make model`")
    with tempfile.TemporaryDirectory() as tmp:
        print("warming a state with 2023 of the demo world ...", file=sys.stderr)
        store = SqliteStore(warm_state(world, Path(tmp), "2023-01-01", "2024-01-01"))
        runtime = ModelRuntime(registry.load_model(champion), settings.model_name, "champion")
        scorer = Scorer(runtime, store, settings)
        shadow = ModelRuntime(registry.load_model(champion), settings.model_name, "challenger")
        documents = [Document.model_validate_json(b) for b in bodies(world, "2024-01-01", count)]
        append = scorer.chain.append
        spent: dict[str, list[float]] = {"plain": [], "audited": [], "audited + shadow": []}
        for block in range(0, len(documents), 50):
            label = list(spent)[block // 50 % 3]
            scorer.chain.append = append if label != "plain" else (lambda *a: None)  # type: ignore[method-assign]
            scorer.shadow = shadow if label == "audited + shadow" else None
            for document in documents[block : block + 50]:
                began = time.perf_counter()
                scored = scorer.score(document)
                if scored.shadow is not None:
                    scorer.shadow_score(scored.shadow)
                spent[label].append((time.perf_counter() - began) * 1e3)
        began = time.perf_counter()
        verdict = store.verify_audit(b"")
        verified = time.perf_counter() - began
        with contextlib.suppress(Exception):
            store.close()
    base = statistics.median(spent["plain"])
    for label, times in spent.items():
        middle = statistics.median(times)
        print(f"{label:>17}: {len(times)} documents, median {middle:.2f} ms "
              f"(+{middle - base:.2f}), mean {statistics.mean(times):.2f} ms")  # fmt: skip
    print(
        f"audit verify: {verdict.records:,} records and {verdict.answers:,} answers in "
        f"{verified:.2f} s ({verdict.records / verified:,.0f} records/s), "
        f"{len(verdict.problems)} problems (the plain blocks' answers have no records)"
    )


def outcome_cost(world: Path) -> None:
    """Milliseconds a full outcome batch holds the event loop: parsing and checking 2,000
    outcomes, storing them; and refusing a batch of 10,000 empty ones."""
    from pydantic import ValidationError

    from riskscore.data import load_world
    from riskscore.service.schemas import MAX_OUTCOMES, OutcomeBatch
    from riskscore.store import SqliteStore, load_history

    w = load_world(world, check=False, with_truth=False)
    assert w.outcomes is not None
    picked = w.outcomes.head(MAX_OUTCOMES)
    documents = w.documents[w.documents["document_id"].isin(picked["document_id"])]
    rows = json.loads(picked.to_json(orient="records", date_format="iso"))
    body = json.dumps({"outcomes": [{k: v for k, v in r.items() if v is not None} for r in rows]})
    empty = json.dumps({"outcomes": [{}] * 10_000})
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "state.db")
        load_history(store, documents, None, None)
        began = time.perf_counter()
        batch = OutcomeBatch.model_validate_json(body)
        checked = time.perf_counter()
        frame = pd.DataFrame([o.model_dump() for o in batch.outcomes])
        frame["finding"] = frame["finding"].map(lambda f: None if f is None else str(f))
        frame["selected_by"] = frame["selected_by"].map(str)
        store.add_outcomes(frame)
        stored = time.perf_counter()
        try:
            OutcomeBatch.model_validate_json(empty)
        except ValidationError as error:
            errors = len(error.errors())
        refused = time.perf_counter()
        store.close()
    print(f"{len(batch.outcomes):,} outcomes ({len(body):,} bytes): checked in "
          f"{(checked - began) * 1e3:.1f} ms, stored in {(stored - checked) * 1e3:.1f} ms; "
          f"10,000 empty outcomes ({len(empty):,} bytes) refused in "
          f"{(refused - stored) * 1e3:.1f} ms ({errors} errors)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="documents per second")
    parser.add_argument("--requests", type=int, default=1_500)
    parser.add_argument("--world", type=Path, default=ROOT / "data" / "world")
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--max-in-flight", type=int, default=4,
                        help="RISKSCORE_MAX_IN_FLIGHT of the server")  # fmt: skip
    parser.add_argument("--auth-cost", action="store_true", help="time the key check only")
    parser.add_argument("--outcome-cost", action="store_true",
                        help="time a full outcome batch only")  # fmt: skip
    parser.add_argument("--audit-cost", action="store_true",
                        help="time the audit record and shadow scoring only")  # fmt: skip
    args = parser.parse_args()
    if args.auth_cost:
        auth_cost()
        return
    if args.audit_cost:
        audit_cost(args.world, args.models)
        return
    if args.outcome_cost:
        outcome_cost(args.world)
        return
    with tempfile.TemporaryDirectory() as tmp:
        print("warming a state with 2023 of the demo world ...", file=sys.stderr)
        state = warm_state(args.world, Path(tmp), "2023-01-01", "2024-01-01")
        payloads = bodies(args.world, "2024-01-01", args.requests)
        warmup = bodies(args.world, "2023-12-01", 50)  # already in the warmed state
        columns = ("workers", "rate/s", "sent", "ok", "shed", "errors", "p50 ms", "p90 ms",
                   "p99 ms", "max ms", "done/s")  # fmt: skip
        print(" ".join(f"{c:>8}" for c in columns))
        for workers in args.workers:
            r = run(workers, state, payloads, args.rate, args.models, warmup, args.max_in_flight)
            shed, live = r["shed"], r["livez"]
            assert isinstance(shed, dict) and isinstance(live, dict)
            r["shed_count"] = shed["count"]
            keys = ("workers", "rate", "sent", "ok", "shed_count", "errors", "p50_ms", "p90_ms",
                    "p99_ms", "max_ms", "throughput")  # fmt: skip
            print(" ".join(f"{float(r[k]):>8.1f}" for k in keys))  # type: ignore[arg-type]
            print("        shed: " + _figures(shed))
            print("        /livez every 100 ms: " + _figures(live))
            stages = r["stages_ms"]
            assert isinstance(stages, dict)
            print(
                "        mean ms per stage: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
            )


def _figures(found: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:,.1f}" for k, v in found.items())


if __name__ == "__main__":
    main()
