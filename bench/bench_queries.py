"""Benchmark: the query library on embedded pyoxigraph vs rdflib's own SPARQL engine, side by side.

Runs every queries/*.rq on the built KG and on a synthetic evidence base of the same shape (the KG's
evidence copied N times under new IRIs), and prints per-query median latency and the ratio.

    python bench/bench_queries.py [--triples 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import Graph, URIRef

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smnpc_kg.core.namespaces import ID  # noqa: E402
from smnpc_kg.store.embedded import OxigraphStore, with_prefixes  # noqa: E402


def scaled(kg: Graph, target: int) -> Graph:
    """The ontology once plus the evidence copied under fresh IRIs until the graph has ``target`` triples.

    Every node of the evidence is copied, the review, its sections and its source text included: the
    synthetic base is many reviews of the same shape, each with its own Table 1, its own studies and
    recommendations, as a larger evidence base would be (not one review whose sections hold every copy).
    """
    evidence = [t for t in kg if any(isinstance(x, URIRef) and str(x).startswith(str(ID)) for x in t)]
    out = Graph()
    for t in kg:
        out.add(t)
    copy = 0
    while len(out) < target:
        copy += 1

        def rename(x: object, c: int = copy) -> object:
            if isinstance(x, URIRef) and str(x).startswith(str(ID)):
                return URIRef(f"{x}-c{c}")
            return x

        for s, p, o in evidence:
            out.add((rename(s), p, rename(o)))  # type: ignore[arg-type]
    return out


def timed(fn: object, repeat: int) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        n = fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times), n


def _rdflib_child(graph: Graph, text: str, out: Any) -> None:
    start = time.perf_counter()
    try:
        rows = len(list(graph.query(with_prefixes(text))))
    except Exception:  # rdflib's engine fails on some valid queries; report it as a failure, not a time
        out.put((-1.0, -1))
        return
    out.put((time.perf_counter() - start, rows))


def rdflib_time(graph: Graph, text: str, limit_s: float) -> tuple[float | None, int]:
    """One run of rdflib's engine in a forked process, cut off after ``limit_s`` (None: timed out)."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=_rdflib_child, args=(graph, text, out))
    proc.start()
    proc.join(limit_s)
    if proc.is_alive():
        proc.terminate()
        proc.join()
        return None, -1
    try:
        elapsed, rows = out.get(timeout=5)
    except Exception:
        return None, -2
    return float(elapsed), int(rows)


def run(graph: Graph, label: str, repeat: int, rdflib_limit_s: float) -> None:
    nt = graph.serialize(format="nt").encode("utf-8")
    store = ox.Store()
    t0 = time.perf_counter()
    store.bulk_load(nt, format=ox.RdfFormat.N_TRIPLES)
    load_s = time.perf_counter() - t0
    oxs = OxigraphStore(store)
    print(f"\n## {label}: {len(graph):,} triples (pyoxigraph load {load_s:.2f} s)", flush=True)
    print(f"{'query':<28}{'rows':>7}{'pyoxigraph ms':>15}{'rdflib ms':>12}{'ratio':>9}")
    ratios: list[float] = []
    failures: list[str] = []
    for path in sorted((ROOT / "queries").glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        ox_s, rows = timed(lambda t=text: len(oxs.query(t).rows), repeat)
        rl_s, rl_rows = rdflib_time(graph, text, rdflib_limit_s)
        if rl_s is None:
            ratio = rdflib_limit_s / ox_s
            ratios.append(ratio)
            print(f"{path.name:<28}{rows:>7}{ox_s * 1000:>15.1f}{'>' + str(int(rdflib_limit_s * 1000)):>12}{'>' + f'{ratio:.0f}':>8}x")
            continue
        if rl_s < 0:  # rdflib's engine raised an exception on the query
            failures.append(path.name)
            print(f"{path.name:<28}{rows:>7}{ox_s * 1000:>15.1f}{'fails':>12}{'':>9}")
            continue
        if rl_rows != rows:
            print(f"  ! {path.name}: rdflib's engine returned {rl_rows} rows, pyoxigraph {rows}")
        ratio = rl_s / ox_s if ox_s else float("inf")
        ratios.append(ratio)
        print(f"{path.name:<28}{rows:>7}{ox_s * 1000:>15.1f}{rl_s * 1000:>12.1f}{ratio:>8.0f}x")
    print(f"pyoxigraph faster by {min(ratios):.0f}x to {max(ratios):.0f}x (median {statistics.median(ratios):.0f}x;"
          f" a timed-out rdflib run counts at the time limit); rdflib's engine failed on {len(failures)}: {', '.join(failures)}",
          flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--triples", type=int, default=100_000, help="size of the synthetic evidence base")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rdflib-limit", type=float, default=60.0, help="seconds before an rdflib run is cut off")
    args = ap.parse_args()
    kg = Graph().parse(ROOT / "dist" / "smnpc-kg.nt", format="nt")
    run(kg, "built KG", args.repeat, args.rdflib_limit)
    run(scaled(kg, args.triples), "synthetic evidence base", args.repeat, args.rdflib_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
