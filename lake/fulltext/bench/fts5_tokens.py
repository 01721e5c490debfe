#!/usr/bin/python3
"""Writes what SQLite FTS5's default tokenizer (unicode61, remove_diacritics 1)
makes of every code point from U+0080 to U+2FFFF, for
TestTokenizerMatchesFTS5:

    /usr/bin/python3 lake/fulltext/bench/fts5_tokens.py > lake/fulltext/testdata/fts5_unicode61.txt

Each code point c is indexed in the text "a" + c + "b" and classified by the
terms FTS5 makes of it: "sep" (terms a and b: c separates), "drop" (the term
ab: c is a diacritic, removed), "same" (the term a c b) or "to X..." (the term
a X b: c folds to the code points X, in hex). Consecutive code points of one
class other than "to" share a line "FIRST LAST CLASS".
"""
import sqlite3
import sys

db = sqlite3.connect(":memory:")
db.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
cps = [c for c in range(0x80, 0x30000) if not 0xD800 <= c <= 0xDFFF]
with db:
    db.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", ((c, "a" + chr(c) + "b") for c in cps))
terms = {}
for term, doc in db.execute("SELECT term, doc FROM v ORDER BY doc, offset"):
    terms.setdefault(doc, []).append(term)

out = sys.stdout
out.write("# FTS5 unicode61 (remove_diacritics 1), SQLite %s: see fts5_tokens.py\n" % sqlite3.sqlite_version)
run = None  # [first, last, class]


def flush():
    if run:
        if run[0] == run[1]:
            out.write("%x %s\n" % (run[0], run[2]))
        else:
            out.write("%x %x %s\n" % tuple(run))


for c in cps:
    t = terms.get(c, [])
    if t == ["a", "b"]:
        cls = "sep"
    elif t == ["ab"]:
        cls = "drop"
    elif t == ["a" + chr(c) + "b"]:
        cls = "same"
    else:
        assert len(t) == 1 and t[0][0] == "a" and t[0][-1] == "b", (hex(c), t)
        cls = "to " + " ".join("%x" % ord(x) for x in t[0][1:-1])
    if run and run[2] == cls and run[1] == c - 1 and not cls.startswith("to"):
        run[1] = c
    else:
        flush()
        run = [c, c, cls]
flush()
