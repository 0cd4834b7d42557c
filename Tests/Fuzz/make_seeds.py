#!/usr/bin/env python3
"""Writes the fuzz seed corpus (Tests/Fuzz/seeds/) from Protocol/golden: each
golden message as one input, and a few sequences (a worker's whole session).
Frames are separated by \\n\\x1f\\n, messages by \\n\\x1e\\n (FuzzOneInput.swift)."""
import json, os, sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
golden = os.path.join(root, "Protocol", "golden")
out = os.path.join(root, "Tests", "Fuzz", "seeds")
FS, MS = b"\n\x1f\n", b"\n\x1e\n"

def frames(msg, batch=False):
    # Frame 0 is the tag; in a batch every string frame starting RTX is one (its messages' tags).
    fs = msg["frames"]
    tag = lambda i, f: isinstance(f, str) and (i == 0 or (batch and f.startswith("RTX")))
    return FS.join(f.encode() if tag(i, f) else json.dumps(f, separators=(",", ":")).encode() for i, f in enumerate(fs))

os.makedirs(out, exist_ok=True)
for f in os.listdir(out):
    os.remove(os.path.join(out, f))
msgs = {}
for sub in ["", "invalid", "batch", "batch/invalid"]:
    d = os.path.join(golden, sub)
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json"):
            continue
        m = json.load(open(os.path.join(d, name)))
        if "frames" not in m:
            continue
        key = (sub.replace("/", "_") + "_" if sub else "") + name[:-5]
        msgs[key] = frames(m, batch=sub.startswith("batch"))
        open(os.path.join(out, key + ".bin"), "wb").write(msgs[key])
# Sequences: a session's messages in order, and the same with hostile numbers.
seqs = {
    "session": ["heartbeat", "result", "result_effects", "credit", "described", "leave"],
    "streamed": ["part", "part", "result_parts", "part", "result"],
    "client": ["submit", "query", "control_pause", "control_resume_from", "status"],
    "hostile": ["invalid_credit_out_of_range", "result", "invalid_result_handler_us_out_of_range", "heartbeat", "join"],
}
for name, parts in seqs.items():
    open(os.path.join(out, "seq_" + name + ".bin"), "wb").write(MS.join(msgs[p] for p in parts if p in msgs))
print(f"wrote {len(os.listdir(out))} seeds to {out}")
