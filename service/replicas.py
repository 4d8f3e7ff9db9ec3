"""Several service processes on one PostgreSQL state: races, and what a replica costs.

    .venv/bin/python service/replicas.py race --pairs 600
    .venv/bin/python service/replicas.py load --rate 100 --requests 1500

Needs a champion (`make model`) and the PostgreSQL server every machine of the project runs
(127.0.0.1:5432, trust auth). Each run loads 2023 of the demo world into a fresh PostgreSQL
schema (dropped afterwards) and starts `riskscore serve` processes on loopback ports.

race: two processes on two ports; for each of N purchase/sale pairs of one firm (2024
documents of the demo world, both re-dated to the sale's second) the two documents are sent
at the same instant, one to each process; then 50 documents are each sent to both processes
at once. Afterwards every document is scored again by one in-process scorer on a fresh state
with the same history, in the order the shared state committed them, and the script prints
how many feature vectors differ (target 0) and how many documents got two different answers
(target 0).

load: the open-loop load of `loadtest.py` (documents of 1-5 items in time order at --rate)
against one SQLite process, one PostgreSQL process and two PostgreSQL processes (requests
alternating between them), back to back; prints throughput, p50/p99, the run's wall time and
the CPU seconds the servers, the database and the load generator each used (they share this
machine's cores; the database is the backends serving the servers' connections, found by
their application_name, without PostgreSQL's background writers or other clients).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pandas as pd
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest import RISKSCORE, ROOT, _free_port, bodies, score_key, summarise, warm_state

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _headers(key: str) -> dict[str, str]:
    return {"content-type": "application/json", "authorization": f"Bearer {key}"}


@contextmanager
def schema(name: str) -> Iterator[str]:
    """A fresh PostgreSQL schema, as a state URL; dropped afterwards."""
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        connection.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def load_history(world: Path, url: str) -> None:
    """2023 of the demo world into the state at `url`."""
    from riskscore.data import load_world
    from riskscore.store import load_history as fill
    from riskscore.store import open_store

    w = load_world(world, check=False, with_truth=False)
    store = open_store(url)
    first, last = pd.Timestamp("2023-01-01", tz="UTC"), pd.Timestamp("2024-01-01", tz="UTC")
    d = w.documents[(w.documents["issued_at"] >= first) & (w.documents["issued_at"] < last)]
    assert w.outcomes is not None
    o = w.outcomes[(w.outcomes["recorded_at"] >= first) & (w.outcomes["recorded_at"] < last)
                   & w.outcomes["document_id"].isin(d["document_id"])]  # fmt: skip
    fill(store, d, o, w.firms)
    store.close()


@contextmanager
def servers(count: int, url: str, models: Path) -> Iterator[list[tuple[str, int]]]:
    """`count` service processes on the state at `url`: their base URLs and process ids."""
    started = []
    for _ in range(count):
        port = _free_port()
        env = os.environ | {"RISKSCORE_STATE_URL": url, "RISKSCORE_MODELS_DIR": str(models),
                            "OMP_NUM_THREADS": "1", "RISKSCORE_RANDOM_SHARE": "0"}  # fmt: skip
        command = [str(RISKSCORE), "serve", "--port", str(port)]
        quiet = subprocess.DEVNULL
        process = subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet)
        started.append((f"http://127.0.0.1:{port}", process))
    try:
        for base, _ in started:
            deadline = time.time() + 180
            while time.time() < deadline:
                try:
                    if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
        yield [(base, process.pid) for base, process in started]
    finally:
        for _, process in started:
            process.terminate()
            process.wait(timeout=30)


def pairs(world: Path, count: int) -> list[tuple[bytes, bytes]]:
    """A firm's purchase and its next sale, both dated to the sale's second, in time order."""
    from riskscore.data import load_world
    from riskscore.schema import document_from_rows

    d = load_world(world, check=False, with_truth=False).documents
    d = d[(d["issued_at"] >= pd.Timestamp("2024-01-01", tz="UTC")) & (d["flow"] == "domestic")]
    d = d.sort_values(["issued_at", "document_id", "item_no"])
    waiting: dict[str, pd.DataFrame] = {}
    out: list[tuple[bytes, bytes]] = []
    for _, lines in d.groupby("document_id", sort=False):
        buyer, seller = lines["consignee_id"].iloc[0], lines["consignor_id"].iloc[0]
        if seller in waiting:
            bought = waiting.pop(seller).assign(issued_at=lines["issued_at"].iloc[0])
            out.append(tuple(document_from_rows(x).model_dump_json().encode()
                             for x in (bought, lines)))  # type: ignore[arg-type]  # fmt: skip
            if len(out) == count:
                break
        else:
            waiting.setdefault(buyer, lines)
    return out


async def _race(
    bases: list[str], work: list[tuple[bytes, bytes]], both: list[bytes], key: str
) -> list[str]:
    """Send each pair's two documents at once, one to each process; then each of `both` to
    both at once. The documents answered differently by the two."""
    headers = _headers(key)
    async with httpx.AsyncClient(timeout=60, headers=headers) as client:
        for first, second in work:
            answered = await asyncio.gather(
                client.post(bases[0] + "/v1/score", content=first),
                client.post(bases[1] + "/v1/score", content=second),
            )
            for answer in answered:
                answer.raise_for_status()
        differing = []
        for body in both:
            answers = await asyncio.gather(*(client.post(b + "/v1/score", content=body)
                                             for b in bases))  # fmt: skip
            for answer in answers:
                answer.raise_for_status()
            if answers[0].json() != answers[1].json():
                differing.append(json.loads(body)["document_id"])
    return differing


def race(args: argparse.Namespace) -> None:
    from riskscore import registry
    from riskscore.config import Settings
    from riskscore.schema import Document
    from riskscore.service.runtime import ModelRuntime
    from riskscore.service.scoring import Scorer
    from riskscore.store import open_store

    work = pairs(args.world, args.pairs)
    both = [first for first, _ in pairs(args.world, args.pairs + 50)[args.pairs :]]
    print(f"{len(work)} same-firm purchase/sale pairs, {len(both)} documents sent to both")
    with schema(f"rs_race_{os.getpid()}") as url, schema(f"rs_replay_{os.getpid()}") as again:
        load_history(args.world, url)
        load_history(args.world, again)
        key = score_key(url)
        with servers(2, url, args.models) as started:
            began = time.perf_counter()
            twice = asyncio.run(_race([b for b, _ in started], work, both, key))
            seconds = time.perf_counter() - began
        shared = open_store(url)
        answers = shared.frame("answers")
        shared.close()
        settings = Settings(models_dir=args.models, random_share=0.0)
        client = registry.connect(args.models, create=False)
        champion = registry.require(client, settings.model_name, "champion", "make model")
        runtime = ModelRuntime(registry.load_model(champion), settings.model_name, "champion")
        replay = open_store(again)
        scorer = Scorer(runtime, replay, settings)
        documents = {json.loads(b)["document_id"]: b for pair in work for b in pair}
        documents |= {json.loads(b)["document_id"]: b for b in both}
        for document_id in answers["document_id"]:
            scorer.score(Document.model_validate_json(documents[document_id]))
        replayed = replay.frame("answers").set_index("document_id")["features"]
        replay.close()
    differing = sum(replayed[d] != f for d, f in zip(answers["document_id"], answers["features"],
                                                      strict=True))  # fmt: skip
    print(f"scored {len(answers)} documents through two processes in {seconds:.1f} s")
    print(f"feature vectors differing from a one-process replay in commit order: {differing}")
    print(f"documents answered differently by the two processes: {len(twice)}")


def _cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _backends(application: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving a connection named
    `application` (the servers' own; not other clients' nor PostgreSQL's background writers)."""
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        found = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,)
        ).fetchall()
    return {pid: _cpu([pid]) for (pid,) in found}


def load(args: argparse.Namespace) -> None:
    import resource

    from loadtest import _send

    payloads = bodies(args.world, "2024-01-01", args.requests)
    warmup = bodies(args.world, "2023-12-01", 50)
    print(f"{'setup':<28} {'done/s':>7} {'ok':>6} {'shed':>5} {'errors':>6} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'wall s':>6} {'cpu srv':>7} {'cpu db':>7} {'cpu load':>8}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_state = warm_state(args.world, Path(tmp), "2023-01-01", "2024-01-01")
        for name, count in (("1 process, SQLite", 1), ("1 process, PostgreSQL", 1),
                            ("2 processes, PostgreSQL", 2)):  # fmt: skip
            with schema(f"rs_load_{os.getpid()}") as pg:
                if "SQLite" in name:
                    copy = Path(tmp) / "copy.db"
                    shutil.copy(sqlite_state, copy)
                    url = f"sqlite:///{copy}"
                else:
                    load_history(args.world, pg)
                    url = f"{pg}&application_name=rs_load_{os.getpid()}"
                key = score_key(url)
                with servers(count, url, args.models) as started:
                    pids, db = [p for _, p in started], _backends(f"rs_load_{os.getpid()}")
                    cpu = (_cpu(pids), resource.getrusage(resource.RUSAGE_SELF))
                    began = time.perf_counter()
                    results = asyncio.run(_send_to([b for b, _ in started], payloads, args.rate,
                                                   key, warmup, _send))  # fmt: skip
                    wall = time.perf_counter() - began
                    after, before = resource.getrusage(resource.RUSAGE_SELF), cpu[1]
                    loader = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                    backends = _backends(f"rs_load_{os.getpid()}")
                    database = sum(t - db.get(pid, 0.0) for pid, t in backends.items())
                    used = (_cpu(pids) - cpu[0], database, loader)
            r = summarise(results, count, args.rate)
            shed = sum(x["status"] == 503 for x in results)
            print(f"{name:<28} {float(r['throughput']):>7.1f} {int(r['ok']):>6} "  # type: ignore[arg-type]
                  f"{shed:>5} {int(r['errors']):>6} "  # type: ignore[arg-type]
                  f"{float(r['p50_ms']):>7.1f} {float(r['p99_ms']):>7.1f} "  # type: ignore[arg-type]
                  f"{wall:>6.1f} {used[0]:>7.1f} {used[1]:>7.1f} {used[2]:>8.1f}")  # type: ignore[arg-type]  # fmt: skip


async def _send_to(bases: list[str], payloads: list[bytes], rate: float, key: str,
                   warmup: list[bytes], send: object) -> list[dict[str, object]]:  # fmt: skip
    """loadtest's open loop, the requests alternating between the processes."""
    shares = [payloads[i :: len(bases)] for i in range(len(bases))]
    parts = await asyncio.gather(*(send(base, share, rate / len(bases), key, warmup)  # type: ignore[operator]
                                   for base, share in zip(bases, shares, strict=True)))  # fmt: skip
    return [r for part in parts for r in part["scores"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["race", "load"])
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--requests", type=int, default=1_500)
    parser.add_argument("--world", type=Path, default=ROOT / "data" / "world")
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    args = parser.parse_args()
    (race if args.mode == "race" else load)(args)


if __name__ == "__main__":
    main()
