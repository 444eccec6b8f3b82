#!/usr/bin/env python3
"""Writes the synthetic `bench --report` fixtures of tests/reports_test.py (deterministic: rerun it
after changing it and commit the JSON it writes next to it).

  amd-zen5-2c-avx512/  three releases (Oct, Nov, Dec 2026), q4_0 GEMV with the ggml peer plugin
                       and EXL3 GEMV, 1 and 2 threads, 3 repetitions. Release 3 against release 2:
                       q4_0_gemv_avx2 4096x4096 t1 30% slower, 11008x4096 t2 7% slower (the
                       fallback rule's "slower" and "noise?"), avx512vnni faster.
  intel-icx-4c-avx2/   two releases, q4_0 GEMV and q8_0 dequant (out_GBps), avx2 ceiling.
  old/                 one file as an older bench with an older Google Benchmark wrote it: no
                       hardware_id or quantbench_version, no run_name, run_type, repetition_index,
                       family_index or aggregate_name, no probe keys in the context.
  compare/             base.json and slow30.json: two q4_0 rows at 9 repetitions, slow30's avx2 row
                       30% slower; the 9-repetition case of compare.py.
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
CACHES = [{"type": "Data", "level": 1, "size": 49152, "num_sharing": 1},
          {"type": "Unified", "level": 2, "size": 1048576, "num_sharing": 1},
          {"type": "Unified", "level": 3, "size": 33554432, "num_sharing": 2}]


def stored_bytes(fmt, shape):
    r, c = (int(x) for x in shape.split("x"))
    return {"q4_0": r * c // 32 * 18, "q8_0": r * c // 32 * 34, "exl3": r * c // 2 + r * 2}[fmt]


def context(hw, version, commit, date, probes, variant_isa, ceiling="native"):
    ctx = {"date": date, "host_name": "ci-" + hw.split("-")[0], "executable": "build/bin/bench",
           "num_cpus": 2, "mhz_per_cpu": 2596, "caches": CACHES, "load_avg": [0.5, 0.6, 0.7],
           "library_build_type": "release", "hardware_id": hw, "quantbench_version": version,
           "git_commit": commit, "git_describe": "v%s-3-g%s" % (version, commit[:7]),
           "build_type": "Release", "compiler": "GNU 12.2.0", "cxx_flags": " -O3 -DNDEBUG -ffp-contract=off",
           "cpu_model": {"amd": "AMD EPYC 9B45", "intel": "Intel Xeon Platinum 8375C"}[hw.split("-")[0]],
           "cpu_flags": "sse2 avx2 fma" + (" avx512f avx512bw avx512vnni avx512vbmi" if "avx512" in hw else ""),
           "isa_ceiling": ceiling, "loadavg_1_5_15min": "0.50 0.60 0.70",
           "probe_method": "sum of 1024 MiB first-touched by the same threads: best of 8 passes",
           "variant_isa": json.dumps(variant_isa, sort_keys=True, separators=(",", ":")),
           "skipped_variants": "{}", "rotation": "rotation target 1024 MiB"}
    for t, gbps in sorted(probes.items()):
        ctx["probe_read_GBps_threads_%d" % t] = "%.6f" % gbps
    return ctx


def rows_for(rng, family, fmt, op, variant, label, shape, tag, threads, gbps, probe, reps, ref_time=None):
    """Repetition rows and their aggregates, as Google Benchmark 1.7 writes them."""
    name = "/".join([fmt, op, variant, shape] + ([tag] if tag else []) + ["threads:%d" % threads, "manual_time"])
    nbytes = stored_bytes(fmt, shape)
    r, c = (int(x) for x in shape.split("x"))
    out = []
    for i in range(reps):
        g = gbps * (1 + rng.uniform(-0.015, 0.015))
        p = probe * (1 + rng.uniform(-0.02, 0.02))
        t = nbytes / g  # bytes / (1e9 B/s) = ns
        row = {"name": name, "family_index": family, "per_family_instance_index": 0, "run_name": name,
               "run_type": "iteration", "repetitions": reps, "repetition_index": i, "threads": threads,
               "iterations": max(1, int(5e8 / t)), "real_time": t, "cpu_time": t * 1.001, "time_unit": "ns",
               "bw_fraction": g / p, "ns_per_weight": t / (r * c), "probe_GBps": p,
               "speedup_vs_ref": (ref_time / t) if ref_time else 1.0,
               "tsc_cycles_per_weight": 2.596 * t / (r * c), "weight_GBps": g, "label": label}
        if op == "dequant":
            row["out_GBps"] = r * c * 4 / t
        out.append(row)
    for agg in ("mean", "median", "stddev", "cv"):
        vals = {k: [row[k] for row in out] for k in out[0] if isinstance(out[0][k], float)}
        row = dict(out[0], name=name + "_" + agg, run_type="aggregate", aggregate_name=agg,
                   aggregate_unit="percentage" if agg == "cv" else "time", iterations=reps)
        del row["repetition_index"]
        for k, v in vals.items():
            mean = sum(v) / len(v)
            sd = (sum((x - mean) ** 2 for x in v) / max(1, len(v) - 1)) ** 0.5
            row[k] = {"mean": mean, "median": sorted(v)[len(v) // 2], "stddev": sd, "cv": sd / mean}[agg]
        out.append(row)
    return out


def round6(v):
    """Six significant digits keep the fixtures small and are plenty for timings."""
    return float("%.6g" % v) if isinstance(v, float) else v


def write(path, doc):
    """One benchmark row per line: small diffs when a fixture changes."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write('{\n"context": %s,\n"benchmarks": [\n' % json.dumps(doc["context"], indent=1))
        f.write(",\n".join(json.dumps({k: round6(v) for k, v in b.items()}) for b in doc["benchmarks"]))
        f.write("\n]\n}\n")


def release_doc(rng, hw, version, commit, date, probes, table, reps=3):
    """table: [(fmt, op, variant, label, shapes+tags, {threads: GB/s at shape 0})]."""
    benchmarks, variant_isa = [], {}
    for family, (fmt, op, variant, label, shapes, by_threads) in enumerate(table):
        if "@ plugin" not in label:
            variant_isa[variant] = label
        for threads, gbps in sorted(by_threads.items()):
            for k, (shape, tag, scale) in enumerate(shapes):
                benchmarks += rows_for(rng, family, fmt, op, variant, label, shape, tag, threads,
                                       gbps * scale, probes[threads], reps)
    return {"context": context(hw, version, commit, date, probes, variant_isa,
                               "avx2" if "avx2" in hw.split("-")[-1] else "native"),
            "benchmarks": benchmarks}


Q4_SHAPES = [("4096x4096", "", 1.0), ("11008x4096", "", 0.95)]
EXL3_SHAPES = [("1024x1024", "K4-mcg", 1.0)]
PEER = "avx2 @ plugin:libqb_ggml_peer.so"


def amd(rng):
    hw = "amd-zen5-2c-avx512"
    probes = {1: 40.0, 2: 62.0}
    releases = [("0.1.0", "3f9e2a1c0b7d", "2026-10-01T09:00:00+00:00", 13.0, 20.0, 2.7),
                ("0.1.1", "8c41d07e5a92", "2026-11-01T09:00:00+00:00", 14.0, 26.0, 2.7),
                ("0.2.0", "496ac92e07b5", "2026-12-01T09:00:00+00:00", 14.0, 31.0, 7.5)]
    for n, (version, commit, date, avx2, vnni, vbmi) in enumerate(releases):
        # Release 3's planted regressions of the avx2 GEMV (see the module docstring).
        avx2_t1 = avx2 / 1.3 if n == 2 else avx2
        table = [("q4_0", "gemv", "q4_0_gemv_ref", "scalar", Q4_SHAPES[:1], {1: 1.4, 2: 2.7}),
              ("q4_0", "gemv", "q4_0_gemv_avx2", "avx2", Q4_SHAPES[:1], {1: avx2_t1, 2: avx2 * 1.7}),
              ("q4_0", "gemv", "q4_0_gemv_avx2", "avx2", Q4_SHAPES[1:],
               {1: avx2 / 0.95, 2: avx2 * 1.7 / 0.95 / (1.065 if n == 2 else 1.0)}),
              ("q4_0", "gemv", "q4_0_gemv_avx512vnni", "avx512vnni", Q4_SHAPES, {1: vnni, 2: vnni * 1.65}),
              ("q4_0", "gemv", "ggml_q4_0_gemv_mul_mat", PEER, Q4_SHAPES, {1: 22.0, 2: 35.0}),
              ("exl3", "gemv", "exl3_gemv_ref", "scalar", EXL3_SHAPES, {1: 0.05, 2: 0.1}),
              ("exl3", "gemv", "exl3_gemv_avx2", "avx2", EXL3_SHAPES, {1: 2.0, 2: 3.9}),
              ("exl3", "gemv", "exl3_gemv_avx512vbmi", "avx512vbmi", EXL3_SHAPES, {1: vbmi, 2: vbmi * 1.8})]
        doc = release_doc(rng, hw, version, commit, date, probes, table)
        write(os.path.join(HERE, hw, "%s-%s.json" % (version, commit[:7])), doc)


def intel(rng):
    hw = "intel-icx-4c-avx2"
    probes = {1: 18.0, 2: 30.0}
    for version, commit, date, avx2 in (("0.1.1", "8c41d07e5a92", "2026-11-02T10:00:00+00:00", 9.0),
                                        ("0.2.0", "496ac92e07b5", "2026-12-02T10:00:00+00:00", 10.5)):
        table = [("q4_0", "gemv", "q4_0_gemv_ref", "scalar", Q4_SHAPES[:1], {1: 1.1, 2: 2.1}),
                 ("q4_0", "gemv", "q4_0_gemv_avx2", "avx2", Q4_SHAPES[:1], {1: avx2, 2: avx2 * 1.6}),
                 ("q8_0", "dequant", "q8_0_dequant_ref", "scalar", Q4_SHAPES[:1], {1: 2.0, 2: 3.8}),
                 ("q8_0", "dequant", "q8_0_dequant_avx2", "avx2", Q4_SHAPES[:1], {1: 8.0, 2: 14.0})]
        write(os.path.join(HERE, hw, "%s-%s.json" % (version, commit[:7])),
              release_doc(rng, hw, version, commit, date, probes, table))


def old(rng):
    """An older bench under an older Google Benchmark: fewer fields, see the module docstring."""
    doc = release_doc(rng, "amd-zen5-2c-avx512", "0.0.9", "1234567abcde", "2026-09-01T09:00:00",
                      {1: 39.0}, [("q4_0", "gemv", "q4_0_gemv_ref", "scalar", Q4_SHAPES[:1], {1: 1.3}),
                                  ("q4_0", "gemv", "q4_0_gemv_avx2", "avx2", Q4_SHAPES[:1], {1: 12.0})], reps=2)
    keep = ("date", "host_name", "executable", "num_cpus", "mhz_per_cpu", "caches", "load_avg",
            "library_build_type", "git_commit", "cpu_model", "variant_isa")
    doc["context"] = {k: v for k, v in doc["context"].items() if k in keep}
    for b in doc["benchmarks"]:
        for k in ("family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
                  "repetition_index", "aggregate_name", "aggregate_unit"):
            b.pop(k, None)
    write(os.path.join(HERE, "old", "0.0.9-1234567.json"), doc)


def compare_pair(rng):
    hw = "amd-zen5-2c-avx512"
    for name, slow in (("base", 1.0), ("slow30", 1.3)):
        table = [("q4_0", "gemv", "q4_0_gemv_avx2", "avx2", Q4_SHAPES[:1], {1: 14.0 / slow}),
                 ("q4_0", "gemv", "q4_0_gemv_avx512vnni", "avx512vnni", Q4_SHAPES[:1], {1: 31.0})]
        write(os.path.join(HERE, "compare", name + ".json"),
              release_doc(rng, hw, "0.2.0", "496ac92e07b5", "2026-12-01T09:00:00+00:00", {1: 40.0}, table, reps=9))


if __name__ == "__main__":
    rng = random.Random(20261201)
    amd(rng)
    intel(rng)
    old(rng)
    compare_pair(rng)
