"""Benchmark: what a service process costs as the state grows (memory, start-up, file size).

    python -m riskscore.bench.state --firms 10000 20000     # ~1.1 M and ~2.3 M lines

For each size: generates a world, loads it into a fresh SQLite state (`riskscore state load`,
timed, with the loader's peak memory), starts `riskscore serve` on it and times how long it
takes to answer /readyz, scores 300 documents of the world's last month through it, and reads
the server's resident memory (RSS) before and after. Needs a champion (`make model`); the
model's features do not depend on the world it scores. Prints one row per size, and the RSS
growth per extra million lines between the first and the last size.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
import pandas as pd

from riskscore.data import load_world
from riskscore.schema import document_from_rows

RISKSCORE = Path(sys.executable).with_name("riskscore")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def measure(firms: int, folder: Path, env: dict[str, str]) -> dict[str, float]:
    world = folder / f"world-{firms}"
    subprocess.run([str(RISKSCORE), "generate", "--out", str(world), "--firms", str(firms)],
                   check=True, capture_output=True, env=env)  # fmt: skip
    lines = json.loads((world / "world.json").read_text())["rows"]["documents"]
    state = folder / f"state-{firms}.db"
    env = env | {"RISKSCORE_STATE_URL": f"sqlite:///{state}"}
    began = time.perf_counter()
    loaded = subprocess.run(["/usr/bin/time", "-f", "%M", str(RISKSCORE), "state", "load",
                             str(world), "--until", "2024-12-01"],
                            check=True, capture_output=True, text=True, env=env)  # fmt: skip
    load_s = time.perf_counter() - began
    load_peak = int(loaded.stderr.strip().splitlines()[-1]) / 1024  # GNU time: max RSS in KB
    d = load_world(world, check=False, with_truth=False).documents
    d = d[d["issued_at"] >= pd.Timestamp("2024-12-01", tz="UTC")]
    bodies = [document_from_rows(x).model_dump_json() for _, x in
              list(d.groupby("document_id", sort=False))[:300]]  # fmt: skip
    added = subprocess.run([str(RISKSCORE), "keys", "add", "bench", "--role", "score"],
                           check=True, capture_output=True, text=True, env=env)  # fmt: skip
    headers = {"content-type": "application/json",
               "authorization": f"Bearer {added.stdout.strip().splitlines()[-1]}"}  # fmt: skip
    port = _free_port()
    env = env | {"RISKSCORE_RANDOM_SECRET": secrets.token_hex(32)}  # serve refuses to start without
    log = folder / f"serve-{firms}.log"
    began = time.perf_counter()
    with log.open("wb") as sink:
        server = subprocess.Popen([str(RISKSCORE), "serve", "--port", str(port)], env=env,
                                  stdout=sink, stderr=sink)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        while True:
            if server.poll() is not None:
                tail = log.read_text(errors="replace").splitlines()[-5:]
                raise RuntimeError(f"riskscore serve exited ({server.returncode}): {tail}")
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        ready_s = time.perf_counter() - began
        rss_ready = _rss_mb(server.pid)
        with httpx.Client(base_url=base, timeout=60) as client:
            for body in bodies:
                client.post("/v1/score", content=body, headers=headers).raise_for_status()
        rss_after = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"lines": lines, "load_s": load_s, "load_peak_mb": load_peak,
            "state_mb": state.stat().st_size / 1e6, "ready_s": ready_s,
            "rss_ready_mb": rss_ready, "rss_after_mb": rss_after}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, nargs="+", default=[10_000, 20_000])
    args = parser.parse_args()
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    print(f"{'lines':>10} {'load s':>7} {'load MB':>8} {'state MB':>9} {'ready s':>8} "
          f"{'RSS ready':>10} {'RSS after':>10}")  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for firms in args.firms:
            r = measure(firms, Path(tmp), env)
            rows.append(r)
            print(f"{r['lines']:>10,.0f} {r['load_s']:>7.0f} {r['load_peak_mb']:>8.0f} "
                  f"{r['state_mb']:>9.0f} {r['ready_s']:>8.1f} {r['rss_ready_mb']:>10.0f} "
                  f"{r['rss_after_mb']:>10.0f}", flush=True)  # fmt: skip
    if len(rows) > 1:
        grown = rows[-1]["rss_after_mb"] - rows[0]["rss_after_mb"]
        more = (rows[-1]["lines"] - rows[0]["lines"]) / 1e6
        print(f"RSS growth: {grown / more:.1f} MB per extra million lines")


if __name__ == "__main__":
    main()
