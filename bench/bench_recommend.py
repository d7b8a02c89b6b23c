"""Benchmark: walk the pathway for a synthetic cohort, with full evidence chains, and watch memory.

    python bench/bench_recommend.py [--patients 10000]

Each patient gets its applicable steps with the recommendation -> findings -> results -> quotes ->
studies chain (as JSON-ready data, the chains shared); prints patients/second and the resident memory
after each tenth of the cohort, so that a leak shows as growth.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from rdflib import Graph

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_classify import synthetic  # noqa: E402

from smnpc_kg.clinical.classify import Definitions  # noqa: E402
from smnpc_kg.clinical.pathway import Pathway, as_json  # noqa: E402
from smnpc_kg.store.embedded import OxigraphStore  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=10_000)
    args = ap.parse_args()
    store = OxigraphStore.from_dist(ROOT / "dist")
    definitions = Definitions(Graph().parse(ROOT / "ontology" / "smnpc.ttl"))
    pathway = Pathway(store, definitions)
    cohort = synthetic(args.patients)
    tenth = max(1, len(cohort) // 10)
    steps = 0
    memory = []
    start = time.perf_counter()
    for i, patient in enumerate(cohort, 1):
        report = as_json(pathway.walk(patient), pathway)
        steps += len(report["steps"])
        if i % tenth == 0:
            memory.append(rss_mb())
    elapsed = time.perf_counter() - start
    print(f"{len(cohort):,} patients, {steps:,} applicable steps with evidence chains in {elapsed:.2f} s "
          f"= {len(cohort) / elapsed:,.0f} patients/s")
    print("resident memory after each tenth (MB): " + " ".join(f"{m:.0f}" for m in memory))
    growth = memory[-1] - memory[0]
    print(f"growth from the first tenth to the last: {growth:+.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
