#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/corpus/<target>/
(from tests/vectors/*.json and examples/) and the JSON dictionary
fuzz/json.dict. scripts/fuzz runs it when a target's corpus is empty."""
import glob, hashlib, json, os, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
corpus = os.path.join(root, "fuzz", "corpus")

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

# Same order as BOOKS in fuzz/src/targets.rs: the quote target's first byte picks one.
BOOKS = ["saas", "api-gateway", "credits", "freemium", "hybrid", "marketplace",
         "multi-currency", "registrar", "team", "telecom", "replay/book", "replay/book-proposed"]

keys = set()
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            keys.add(k); walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
    elif isinstance(v, str) and len(v) < 24:
        keys.add(v)

for f in sorted(glob.glob(os.path.join(root, "tests/vectors/*.json"))):
    for case in json.load(open(f))["cases"]:
        walk(case)
        if "book" in case:
            put("price_book", json.dumps(case["book"], separators=(",", ":")))
        if "request" in case:
            for i in range(len(BOOKS)):
                put("quote", bytes([i]) + json.dumps(case["request"]).encode())
                break
for i, name in enumerate(BOOKS):
    text = open(os.path.join(root, "examples", name + ".json")).read()
    walk(json.loads(text))
    put("price_book", text)
for i, name in enumerate(["quote-starter", "compare-usage"]):
    text = open(os.path.join(root, "examples", name + ".json")).read()
    for b in range(len(BOOKS)):
        put("quote", bytes([b]) + text.encode())
for b, req in enumerate([
    {"plan": "pro", "quantities": {"seats": "5"}, "periods": 12, "include_setup": True},
    {"plan": "starter", "usage": {"messages": "100000"}, "currency": "EUR"},
    {"plan": "pro", "usage": {"sales": {"amounts": ["25", "100"]}}},
    {"plan": "pro", "usage": {"sales": {"count": "100", "total": "10000"}}},
    {"plan": "pro", "customer": "cus_1", "at": "2026-03-01T00:00:00Z", "addons": ["extra"]},
]):
    for i in range(len(BOOKS)):
        put("quote", bytes([i]) + json.dumps(req).encode())
for line in open(os.path.join(root, "examples/replay/events.ndjson")):
    line = line.strip()
    if line:
        walk(json.loads(line)); put("event", line)
for ev in [
    '{"specversion":"1.0","id":"x","source":"s","type":"t","subject":"c","data":null}',
    '{"specversion":"1.0","id":"x\\u0041","source":"s","type":"t","subject":"c","ext":1}',
    '{"specversion":"1.0","id":"x","source":"s","type":"t","subject":"c","datacontenttype":"application/json","data":{"quantity":1e3,"amount":"5"}}',
    '{"specversion":"1.0","id":"x","id":"y","source":"s","type":"t","subject":"c"}',
    '[{"specversion":"1.0"}]',
]:
    put("event", ev)
# record: book, plan, start (2 bytes), flags, seat pick, seat qty, then ops.
for book in range(len(BOOKS)):
    put("record", bytes([book, 0, 0, 0, 1, 0, 3, 0, 1, 4, 0, 0, 1, 0, 7, 100, 0, 1, 0, 7, 200, 3, 0, 7, 255, 255]))
    put("record", bytes([book, 1, 5, 0, 3, 2, 1, 5, 0, 6, 0, 1, 4, 0, 0, 1, 0, 8, 1, 1, 7, 0, 16]))

with open(os.path.join(root, "fuzz", "json.dict"), "w") as f:
    for k in sorted(keys | {"{", "}", "[", "]", ",", ":", "null", "true", "false", "1e30", "-0", "NaN"}):
        s = json.dumps(k) if k not in ("{", "}", "[", "]", ",", ":", "null", "true", "false", "1e30", "-0", "NaN") else k
        f.write('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"\n')
