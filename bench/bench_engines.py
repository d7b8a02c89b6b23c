"""Benchmark: the query library on the KG and on synthetic evidence bases of 1M and 5M triples, on four engines.

    python bench/bench_engines.py [--sizes 1000000 5000000] [--repeat 3] [--rdflib-limit 60] [--engines ...]

Engines, side by side in one run: embedded pyoxigraph (through the project's store layer, and raw, to
measure the layer's cost), rdflib's own SPARQL engine, Oxigraph server and Virtuoso 7 (each started on
127.0.0.1 by this script and stopped after). Reports load time, peak memory and the median latency of
every library query.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import Graph

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_queries import rdflib_time, scaled  # noqa: E402

from smnpc_kg.core.namespaces import PREFIXES  # noqa: E402
from smnpc_kg.kg.queries import library  # noqa: E402
from smnpc_kg.store.embedded import OxigraphStore  # noqa: E402
from smnpc_kg.store.remote import RemoteStore  # noqa: E402


def median_ms(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(label: str, graph: Graph, engines: list[str], repeat: int, rdflib_limit: float) -> None:
    from tests.servers import oxigraph_server, virtuoso_server

    queries = [q for q in library(ROOT / "queries") if not q.name.startswith("checks/")]
    with tempfile.TemporaryDirectory(prefix="smnpc-bench-") as tmp:
        nt = Path(tmp) / "kg.nt"
        graph.serialize(destination=str(nt), format="nt", encoding="utf-8")
        print(f"\n## {label}: {len(graph):,} triples", flush=True)
        columns: dict[str, dict[str, str]] = {q.name: {} for q in queries}
        store = ox.Store()
        start = time.perf_counter()
        store.bulk_load(path=str(nt), format=ox.RdfFormat.N_TRIPLES)
        print(f"pyoxigraph bulk load {time.perf_counter() - start:.1f} s; peak memory of this process {peak_mb():.0f} MB", flush=True)
        layer = OxigraphStore(store)
        for q in queries:
            if "embedded" in engines:
                columns[q.name]["embedded"] = f"{median_ms(lambda t=q.text: layer.query(t), repeat):.1f}"
            if "raw" in engines:
                def raw(t: str = q.text) -> None:
                    answer: Any = store.query(t, prefixes=PREFIXES, use_default_graph_as_union=True)
                    list(answer)

                columns[q.name]["raw"] = f"{median_ms(raw, repeat):.1f}"
            print(f"  {q.name}: embedded {columns[q.name].get('embedded', '-')} ms", flush=True)
            if "rdflib" in engines:
                elapsed, n = rdflib_time(graph, q.text, rdflib_limit)
                columns[q.name]["rdflib"] = ("fails" if n == -1 or (elapsed is not None and elapsed < 0) else
                                             f"{elapsed * 1000:.0f}" if elapsed is not None else f">{rdflib_limit * 1000:.0f}")
        if "oxigraph-server" in engines:
            start = time.perf_counter()
            with oxigraph_server(nt, Path(tmp) / "ox") as url:
                print(f"Oxigraph server load + optimize + start {time.perf_counter() - start:.1f} s", flush=True)
                remote = RemoteStore(f"{url}/query")
                for q in queries:
                    columns[q.name]["oxigraph-server"] = f"{median_ms(lambda t=q.text: remote.query(t), repeat):.1f}"
        if "virtuoso" in engines:
            (Path(tmp) / "vt").mkdir()
            start = time.perf_counter()
            with virtuoso_server(nt, Path(tmp) / "vt") as url:
                print(f"Virtuoso start + load + checkpoint {time.perf_counter() - start:.1f} s", flush=True)
                remote = RemoteStore(url, timeout_s=120)
                for q in queries:
                    try:
                        columns[q.name]["virtuoso"] = f"{median_ms(lambda t=q.text: remote.query(t), repeat):.1f}"
                    except Exception as exc:  # report, do not stop the benchmark
                        columns[q.name]["virtuoso"] = f"error: {str(exc)[:40]}"
        names = [e for e in ("embedded", "raw", "rdflib", "oxigraph-server", "virtuoso") if e in engines]
        print(f"{'query (median ms)':<46}" + "".join(f"{n:>17}" for n in names))
        for q in queries:
            print(f"{q.name:<46}" + "".join(f"{columns[q.name].get(n, ''):>17}" for n in names), flush=True)
        if "embedded" in engines and "raw" in engines:
            overhead = [float(c["embedded"]) / float(c["raw"]) - 1 for c in columns.values() if float(c["raw"]) > 1.0]
            if overhead:
                print(f"store layer overhead on queries over 1 ms: median {statistics.median(overhead) * 100:+.1f}%")
        if "embedded" in engines:
            worst = max(columns.values(), key=lambda c: float(c["embedded"]))
            print(f"slowest embedded query: {float(worst['embedded']):.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 5_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rdflib-limit", type=float, default=10.0)
    ap.add_argument("--engines", nargs="*", default=["embedded", "raw", "rdflib", "oxigraph-server", "virtuoso"])
    args = ap.parse_args()
    mp.set_start_method("fork")
    kg = Graph().parse(ROOT / "dist" / "smnpc-kg.nt", format="nt")
    run("built KG", kg, args.engines, args.repeat, args.rdflib_limit)
    for size in args.sizes:
        engines = [e for e in args.engines if e != "rdflib" or size <= 1_000_000]  # rdflib cannot hold 5M in reasonable time
        run(f"synthetic evidence base ({size:,})", scaled(kg, size), engines, args.repeat, args.rdflib_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
