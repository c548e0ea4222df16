#!/usr/bin/env python3
"""Largest differences between the f32 tensors of two checkpoints (safetensors), standard
library only: prints the max absolute difference, and the max of |a - b| / (|a| + |b| + 1e-3)
over every element of G/, D/, G_ema/ and w_avg (the optimiser moments are left out: a
moment near zero makes relative differences meaningless). Exit 1 above --rel-tol."""
import argparse, json, struct, sys
from array import array


def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        a = array("f")
        a.frombytes(data[t["data_offsets"][0]:t["data_offsets"][1]])
        if sys.byteorder != "little":
            a.byteswap()
        out[name] = a
    return out


p = argparse.ArgumentParser()
p.add_argument("a")
p.add_argument("b")
p.add_argument("--rel-tol", type=float, default=1e-4)
args = p.parse_args()
ta, tb = tensors(args.a), tensors(args.b)
names = [n for n in ta if n.startswith(("G/", "D/", "G_ema/", "w_avg"))]
assert names and set(names) <= set(tb), "the checkpoints hold different tensors"
max_abs = max_rel = 0.0
count = 0
for n in names:
    for x, y in zip(ta[n], tb[n]):
        d = abs(x - y)
        max_abs = max(max_abs, d)
        max_rel = max(max_rel, d / (abs(x) + abs(y) + 1e-3))
        count += 1
print(f"{count} parameters: max |a-b| {max_abs:.3e}, max relative {max_rel:.3e} (tolerance {args.rel_tol:g})")
sys.exit(0 if max_rel <= args.rel_tol else 1)
