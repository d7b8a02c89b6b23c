"""Benchmark: classify a synthetic cohort with the compiled evaluator and with HermiT, side by side.

    python bench/bench_classify.py [--patients 10000] [--hermit 1000] [--hermit-limit 180]

Reports patients/second for each path, checks that both place every patient in the same classes,
and the peak memory of the process.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

from rdflib import Graph

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smnpc_kg.clinical.classify import Definitions, hermit_members  # noqa: E402
from smnpc_kg.clinical.patient import Patient, from_json  # noqa: E402

SITES = ["bone", "liver", "lung", "distant_lymph_node", "other"]


def synthetic(n: int, seed: int = 7) -> list[Patient]:
    """Valid patients with every fact sometimes unknown."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        d: dict[str, object] = {"schema": "smnpc-kg/patient/1.0", "id": f"S{i}"}
        sites = sorted(rnd.sample(SITES, rnd.randint(1, 3)))
        lesions = rnd.randint(len(sites), 12)
        if rnd.random() < 0.9:
            d["metastatic_sites"] = sites
        if rnd.random() < 0.9:
            d["lesion_count"] = lesions
        if rnd.random() < 0.85:
            d["liver_lesion_count"] = rnd.randint(1, lesions) if "liver" in sites else 0
        if rnd.random() < 0.7:
            d["metastatic_site_count"] = rnd.randint(1, lesions)
        if "bone" in sites and rnd.random() < 0.7:
            d["spine_involved"] = rnd.random() < 0.5
        if rnd.random() < 0.7:
            d["ebv_dna_after_chemotherapy"] = rnd.choice(["detectable", "undetectable"])
        if rnd.random() < 0.8:
            d["response"] = rnd.choice(["CR", "PR", "SD", "PD"])
        d["line_of_therapy"] = rnd.choice([1, 1, 2])
        d["cycles"] = rnd.randint(1, 8)
        if d["line_of_therapy"] == 2:
            d["prior_platinum"] = rnd.random() < 0.8
            d["months_to_progression"] = rnd.choice([2, 4, 6, 8, 12])
        out.append(from_json(d, f"synthetic[{i}]"))
    return out


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--hermit", type=int, default=1_000, help="how many of the patients HermiT classifies")
    args = ap.parse_args()
    ontology = Graph().parse(ROOT / "ontology" / "smnpc.ttl")
    definitions = Definitions(ontology)
    cohort = synthetic(args.patients)
    print(f"{len(cohort):,} synthetic patients, {len(definitions.formulas)} defined classes")

    start = time.perf_counter()
    compiled = {p.id: definitions.members(p) for p in cohort}
    compiled_s = time.perf_counter() - start
    print(f"compiled evaluator: {len(cohort):,} patients in {compiled_s:.3f} s = {len(cohort) / compiled_s:,.0f} patients/s "
          f"(peak memory so far {peak_mb():.0f} MB)", flush=True)

    subset = cohort[: args.hermit]
    start = time.perf_counter()
    inferred = hermit_members(subset, ontology, list(definitions.formulas))
    hermit_s = time.perf_counter() - start
    agree = sum(inferred[p.id] == compiled[p.id] for p in subset)
    print(f"HermiT (owlready2):  {len(subset):,} patients in {hermit_s:.1f} s = {len(subset) / hermit_s:,.1f} patients/s")
    print(f"speed-up: {(len(cohort) / compiled_s) / (len(subset) / hermit_s):,.0f}x; identical classes for {agree:,} of {len(subset):,} patients")
    print(f"peak memory: {peak_mb():.0f} MB")
    return 0 if agree == len(subset) else 1


if __name__ == "__main__":
    sys.exit(main())
