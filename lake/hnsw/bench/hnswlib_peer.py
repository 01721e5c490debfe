#!/usr/bin/python3
"""hnswlib as a benchmark peer for lake/hnsw.

Reads the vectors, queries and exact top-k that `go run ./lake/hnsw/bench`
writes, builds hnswlib with the same M, efConstruction and thread count, and
prints build time, bytes per vector, and single-thread queries/s and
recall@k at each ef as one JSON object on stdout.

Run with Debian's interpreter, which has the packages:
    apt-get install -y python3-hnswlib python3-numpy
    /usr/bin/python3 hnswlib_peer.py --data FILE --m 16 --efc 200 --threads 2 --ef 16,32,64,100,200

Data file, little-endian: magic b"AKBENCH1", then uint32 n, nq, dim, k;
float32 base[n][dim]; float32 queries[nq][dim]; int32 truth[nq][k].
This is a benchmark tool only: no test depends on it.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import hnswlib
import numpy as np

MAGIC = b"AKBENCH1"


def read_data(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) != 24 or head[:8] != MAGIC:
        sys.exit(f"{path}: not an AKBENCH1 file")
    n, nq, dim, k = np.frombuffer(head[8:], dtype="<u4")
    n, nq, dim, k = int(n), int(nq), int(dim), int(k)
    off = 24
    base = np.memmap(path, dtype="<f4", mode="r", offset=off, shape=(n, dim))
    off += 4 * n * dim
    queries = np.array(np.memmap(path, dtype="<f4", mode="r", offset=off, shape=(nq, dim)))
    off += 4 * nq * dim
    truth = np.array(np.memmap(path, dtype="<i4", mode="r", offset=off, shape=(nq, k)))
    return base, queries, truth


def library_version():
    try:
        from importlib import metadata
        return metadata.version("hnswlib")
    except Exception:
        return getattr(hnswlib, "__version__", "unknown")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ef", default="16,32,64,100,200")
    ap.add_argument("--reps", type=int, default=3, help="query passes per ef; the fastest counts")
    ap.add_argument("--seed", type=int, default=100)
    args = ap.parse_args()

    base, queries, truth = read_data(args.data)
    n, dim = base.shape
    k = truth.shape[1]
    # Load the vectors before the clock starts, as the Go side has them in
    # memory before its build starts.
    base = np.ascontiguousarray(base)

    index = hnswlib.Index(space="ip", dim=dim)  # vectors are unit length: ip is cosine
    index.init_index(max_elements=n, ef_construction=args.efc, M=args.m, random_seed=args.seed)
    index.set_num_threads(args.threads)
    start, cpu = time.perf_counter(), time.process_time()
    index.add_items(base, np.arange(n))
    build = time.perf_counter() - start
    build_cpu = time.process_time() - cpu

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "index.bin")
        index.save_index(p)
        size = os.path.getsize(p)

    index.set_num_threads(1)
    truth_sets = [set(row.tolist()) for row in truth]
    results = []
    for ef in [int(x) for x in args.ef.split(",")]:
        index.set_ef(ef)
        best = float("inf")
        labels = None
        for _ in range(args.reps):
            start = time.perf_counter()
            labels, _ = index.knn_query(queries, k=k)
            best = min(best, time.perf_counter() - start)
        hits = sum(len(truth_sets[i] & set(labels[i].tolist())) for i in range(len(queries)))
        results.append({"ef": ef, "recall": hits / truth.size, "qps": len(queries) / best})

    json.dump({
        "library": "hnswlib",
        "version": library_version(),
        "n": n,
        "threads": args.threads,
        "build_seconds": build,
        "build_cpu_seconds": build_cpu,
        "vectors_per_second": n / build,
        "bytes_per_vector": size / n,
        "search": results,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
