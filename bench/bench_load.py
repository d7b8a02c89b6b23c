"""Load test: concurrent clients against `smnpc-kg serve` on 127.0.0.1, mixing library queries and recommendations.

    python bench/bench_load.py [--clients 32] [--seconds 30] [--recommend-share 0.3]

Starts the server (stopped by its PID afterwards), runs a fixed number of client threads for a fixed time, each on
its own keep-alive connection, and reports requests/second, latency percentiles, errors by status, and the resident
memory of the server and its query workers sampled through the run (it must stay flat).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smnpc_kg.kg.queries import library  # noqa: E402
from tests.servers import smnpc_server  # noqa: E402


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (the query workers), in MB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
        todo.extend(children.get(p, []))
    return total


def server_pid(port: int) -> int:
    """The PID of the process listening on the port (the uvicorn server), found through /proc/net/tcp."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if int(parts[1].split(":")[1], 16) == port and parts[3] == "0A":
            inode = parts[9]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                for fd in (entry / "fd").iterdir():
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return int(entry.name)
            except OSError:
                continue
    raise RuntimeError(f"no process listens on port {port}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--recommend-share", type=float, default=0.3)
    args = ap.parse_args()

    queries = [q.text for q in library(ROOT / "queries") if not q.name.startswith("checks/")]
    patients = [p.read_bytes() for p in sorted((ROOT / "examples" / "patients").glob("*.json"))]
    with smnpc_server(ROOT, "--workers", "2") as url:
        port = int(url.rsplit(":", 1)[1])
        pid = server_pid(port)
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        memory: list[tuple[float, float]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(seed: int) -> None:
            rng = random.Random(seed)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            while not stop.is_set():
                if rng.random() < args.recommend_share:
                    path, body, ctype = "/recommend", rng.choice(patients), "application/json"
                else:
                    path, body, ctype = "/sparql", urllib.parse.urlencode({"query": rng.choice(queries)}).encode(), \
                        "application/x-www-form-urlencoded"
                start = time.perf_counter()
                try:
                    conn.request("POST", path, body=body, headers={"Content-Type": ctype, "Accept": "application/sparql-results+json"})
                    response = conn.getresponse()
                    data = response.read()
                    status = str(response.status)
                    if response.status == 200 and path == "/recommend":
                        json.loads(data)
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                elapsed = time.perf_counter() - start
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == "200":
                        latencies.append(elapsed)
            conn.close()

        def sampler(t0: float) -> None:
            while not stop.is_set():
                memory.append((time.monotonic() - t0, rss_mb(pid)))
                stop.wait(0.5)

        print(f"server PID {pid}: {rss_mb(pid):.0f} MB resident (with its workers) before the run", flush=True)
        t0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        threads.append(threading.Thread(target=sampler, args=(t0,)))
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        stop.set()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        total = sum(statuses.values())
        errors = total - statuses.get("200", 0)
        latencies.sort()

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

        tenth = max(1, len(memory) // 10)
        first = statistics.mean(m for _, m in memory[:tenth])
        last = statistics.mean(m for _, m in memory[-tenth:])
        print(f"{args.clients} clients for {wall:.1f} s ({args.recommend_share:.0%} /recommend, the rest the {len(queries)} library queries)")
        print(f"requests {total:,}; {total / wall:,.1f} requests/s; errors {errors} ({json.dumps(statuses, sort_keys=True)})")
        print(f"latency ms: p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}  max {latencies[-1] * 1000:.1f}")
        print(f"server memory (main process + workers), MB: first tenth {first:.0f}, last tenth {last:.0f}, "
              f"peak {max(m for _, m in memory):.0f}; growth {last - first:+.0f} MB")
        return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
