#!/usr/bin/python3
"""SQLite FTS5 as a benchmark peer for lake/fulltext.

Reads the documents and queries that `go run ./lake/fulltext/bench` writes,
indexes them in an FTS5 table fts5(content, tags) with the default tokenizer
(unicode61, remove_diacritics 1), and prints build time, index size, and
for each match mode the single-thread queries/s and every query's top k
(rowid and -bm25(), so higher is better as in lake/fulltext) as one JSON
object on stdout.

Run with Debian's interpreter (its sqlite3 module has FTS5):
    /usr/bin/python3 fts5_peer.py --data FILE --reps 3

Data file, little-endian: magic b"AKFTBEN1", uint32 docs, uint32 queries;
per document uint32 length + UTF-8 content, uint32 length + UTF-8 tags
(space-separated); per query uint32 terms, each uint32 length + UTF-8.
This is a benchmark tool only: no test depends on it.
"""

import argparse
import json
import os
import sqlite3
import struct
import sys
import tempfile
import time

MAGIC = b"AKFTBEN1"


def read_data(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        sys.exit(f"{path}: not an AKFTBEN1 file")
    n, nq = struct.unpack_from("<II", data, 8)
    off = 16
    docs = []
    for _ in range(n):
        (ln,) = struct.unpack_from("<I", data, off)
        content = data[off + 4 : off + 4 + ln].decode("utf-8")
        off += 4 + ln
        (ln,) = struct.unpack_from("<I", data, off)
        tags = data[off + 4 : off + 4 + ln].decode("utf-8")
        off += 4 + ln
        docs.append((content, tags))
    queries = []
    for _ in range(nq):
        (nt,) = struct.unpack_from("<I", data, off)
        off += 4
        terms = []
        for _ in range(nt):
            (ln,) = struct.unpack_from("<I", data, off)
            terms.append(data[off + 4 : off + 4 + ln].decode("utf-8"))
            off += 4 + ln
        queries.append(terms)
    return docs, queries


def match_string(terms, mode):
    # Each term as an FTS5 string: no term is read as an operator or column
    # filter. Juxtaposed strings are FTS5's implicit AND.
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
    return " ".join(quoted) if mode == "all" else " OR ".join(quoted)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--reps", type=int, default=3, help="query passes per mode; the fastest counts")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--dir", default=None, help="where the database file goes (default: a temp dir)")
    args = ap.parse_args()

    docs, queries = read_data(args.data)
    tmp = tempfile.mkdtemp(prefix="akosha-fts5-", dir=args.dir)
    path = os.path.join(tmp, "fts5.db")
    db = sqlite3.connect(path, isolation_level=None)
    # The peer's best configuration: no journal or fsync (ours writes one
    # file and does not fsync either), and a page cache and mmap as large as
    # the index, so queries read memory as ours do.
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-4000000")
    db.execute("PRAGMA mmap_size=8000000000")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(content, tags)")

    t0, c0 = time.perf_counter(), time.process_time()
    db.execute("BEGIN")
    db.executemany("INSERT INTO t(rowid, content, tags) VALUES (?, ?, ?)",
                   ((i, c, g) for i, (c, g) in enumerate(docs)))
    db.execute("COMMIT")
    insert_s = time.perf_counter() - t0
    # 'optimize' merges FTS5's b-tree segments into one: the form that
    # queries fastest, so the build is counted up to it.
    db.execute("INSERT INTO t(t) VALUES('optimize')")
    build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    size = os.path.getsize(path)
    del docs

    sql = "SELECT rowid, bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT %d" % args.k
    modes = {}
    for mode in ("all", "any"):
        strings = [match_string(q, mode) for q in queries]
        hits = None
        best = float("inf")
        for _ in range(max(args.reps, 1)):
            t = time.perf_counter()
            rows = [db.execute(sql, (m,)).fetchall() for m in strings]
            best = min(best, time.perf_counter() - t)
            if hits is None:
                hits = [[[r, -s] for r, s in rr] for rr in rows]
        modes[mode] = {"qps": len(strings) / best, "hits": hits}
    db.close()
    os.remove(path)
    os.rmdir(tmp)
    json.dump({
        "library": "SQLite FTS5",
        "version": sqlite3.sqlite_version,
        "insert_seconds": insert_s,
        "build_seconds": build_s,
        "build_cpu_seconds": build_cpu,
        "bytes": size,
        "modes": modes,
    }, sys.stdout)


if __name__ == "__main__":
    main()
