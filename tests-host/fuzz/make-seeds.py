#!/usr/bin/env python3
"""Seeds (tests-host/fuzz/seeds/TARGET, committed) for the fuzz targets from the byte strings quoted in
../shared/spec/wire-protocol.md (written there as Python bytes literals),
plus a few whole sessions. Run from tests-host/fuzz:
    python3 make-seeds.py ../../../shared/spec/wire-protocol.md
"""
import ast, hashlib, os, re, sys

spec = open(sys.argv[1] if len(sys.argv) > 1 else "../../../shared/spec/wire-protocol.md").read()
lits = set()
for m in re.finditer(r"b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\"", spec):
    try:
        v = ast.literal_eval(m.group(0))
    except Exception:
        continue
    if v:
        lits.add(v)
sessions = [
    b'\xff{"execute":"guest-sync-delimited","arguments":{"id":1}}{"execute":"guest-ping"}',
    b'{"execute":"guest-file-open","arguments":{"path":"/tmp/a","mode":"w+"}}'
    b'{"execute":"guest-file-write","arguments":{"handle":1000,"buf-b64":"aGVsbG8="}}'
    b'{"execute":"guest-file-seek","arguments":{"handle":1000,"offset":0,"whence":"set"}}'
    b'{"execute":"guest-file-read","arguments":{"handle":1000}}',
    b'{"execute":"guest-exec","arguments":{"path":"/bin/echo","arg":["hi"],"capture-output":true}}'
    b'{"execute":"guest-exec-status","arguments":{"pid":1}}',
    b'{"execute":"guest-info","id":{"a":[1,2.5e3,"\\u00e9"]}}',
    b'{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":0,"online":true}]}}',
]
lits.update(sessions)

def put(target, data):
    d = os.path.join("seeds", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    open(os.path.join(d, name), "wb").write(data)

for v in sorted(lits):
    put("framer", b"\x07" + v)
    put("framer", b"\x00" + v)
    put("envelope", v)
    put("agent", b"\xff\xff\x00\x00" + v)
    put("agent", b"\x00\x01\x02\x01" + v)
print(len(lits), "seeds")
