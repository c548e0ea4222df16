#!/usr/bin/env python3
"""The engine beside burn-wgpu, shape by shape: a markdown table (issue 17).

    cargo run --release -- bench --quick --json ours.json
    (cd tools/burn_bench && cargo run --release -- --json ../../burn.json)
    python3 tools/burn_compare.py --ours ours.json --burn burn.json

Reads the engine's `bench --json` (rows `kernels[]` with `name`, `shape`, `median_ms`;
conv rows come as three passes: conv2d_forward, conv2d_backward_data,
conv2d_backward_weight) and burn_bench's JSON (rows `rows[]` with `op`, `shape`, `fwd_ms`,
`fwd_bwd_ms`), matches rows on the shape string (spacing and `_` in numbers don't matter),
and prints one row per burn shape:

    shape | ours fwd | burn fwd | burn/ours | ours fwd+dgrad+wgrad | burn fwd+bwd | burn/ours

A ratio above 1 means the engine is faster. `--ours` may be given more than once: a shape
missing from the first file is taken from the next (such rows are marked). Standard
library only. `--burn` may be repeated too (several burn_bench runs, e.g. split with
`--filter`/`--skip`; rows are joined, the first run's shape wins).
"""

import argparse
import json
import sys

CONV_PASSES = ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight")


def norm_shape(s):
    """'N=2 C=17  K=1_024 ...' -> ('N=2', 'C=17', 'K=1024', ...)."""
    return tuple(p.replace("_", "") for p in str(s).split())


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"burn_compare: cannot read {path}: {e}")


def ms(v):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 10:
        return f"{v:.1f} ms"
    if v >= 1:
        return f"{v:.2f} ms"
    return f"{v:.3f} ms"


def secs(v):
    if v is None or v < 1e3:
        return ms(v)
    return f"{v / 1e3:.1f} s"


def ratio(burn, ours):
    if burn is None or ours is None or ours <= 0:
        return "–"
    return f"{burn / ours:.2f}×"


def ours_index(docs):
    """{(name, shape): (median_ms, file index)}, first file first."""
    idx = {}
    for i, doc in enumerate(docs):
        for k in doc.get("kernels", []):
            key = (k.get("name"), norm_shape(k.get("shape", "")))
            if key not in idx and k.get("median_ms") is not None:
                idx[key] = (float(k["median_ms"]), i)
    return idx


def merge_burn(docs):
    """One burn document from several runs: the first's header, every row once."""
    out = dict(docs[0])
    rows, seen = [], set()
    for d in docs:
        for r in d.get("rows", []):
            key = (r.get("op"), norm_shape(r.get("shape", "")))
            if key not in seen:
                seen.add(key)
                rows.append(r)
    out["rows"] = rows
    adapters = {d.get("adapter") for d in docs}
    if len(adapters) > 1:
        out["adapter"] = " / ".join(sorted(str(x) for x in adapters))
    return out


def table(ours_docs, ours_paths, burn):
    idx = ours_index(ours_docs)
    lines = []
    dev = [d.get("device", {}) for d in ours_docs]
    names = sorted({d.get("name", "?") for d in dev})
    timing = sorted({d.get("timing", "?") for d in ours_docs})
    lines.append(
        f"ours: {', '.join(names)} ({', '.join(timing)} timing; "
        f"{', '.join(ours_paths)})  "
    )
    lines.append(
        f"burn {burn.get('burn_version', '?')}: {burn.get('adapter', '?')} "
        f"({burn.get('timing', 'wall')} clock + device sync; first run with compile and "
        f"autotune excluded, shown in the last column)"
    )
    if burn.get("adapter") and names and burn.get("adapter") not in names:
        lines.append(
            f"\n**Warning: different adapters** (ours {', '.join(names)}, burn {burn.get('adapter')})."
        )
    lines.append("")
    lines.append(
        "| shape | ours fwd | burn fwd | burn/ours | ours fwd+dgrad+wgrad | burn fwd+bwd "
        "| burn/ours | burn first run fwd / fwd+bwd |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    notes = set()
    for r in burn.get("rows", []):
        op, shape = r.get("op"), r.get("shape", "")
        key = norm_shape(shape)
        b_fwd, b_fb = r.get("fwd_ms"), r.get("fwd_bwd_ms")
        warm = f"{secs(r.get('warmup_fwd_ms'))} / {secs(r.get('warmup_fwd_bwd_ms'))}"
        mark = ""
        if op == "conv2d":
            got = [idx.get((p, key)) for p in CONV_PASSES]
            o_fwd = got[0][0] if got[0] else None
            if all(got):
                parts = [g[0] for g in got]
                o_fb = sum(parts)
                o_fb_s = " + ".join(ms(p).replace(" ms", "") for p in parts) + f" = {ms(o_fb)}"
            else:
                o_fb, o_fb_s = None, "–"
            srcs = {g[1] for g in got if g}
            label = f"conv{r.get('ks', '')}x{r.get('ks', '')} {shape}" if r.get("ks") else shape
        elif op == "matmul":
            got = idx.get(("matmul", key))
            o_fwd = got[0] if got else None
            o_fb, o_fb_s = None, "–"
            srcs = {got[1]} if got else set()
            label = f"matmul {shape}"
            notes.add("matmul: the engine's bench times the forward product only, so its fwd+bwd is –.")
        else:
            continue
        if not srcs:
            mark = " ‡"
            notes.add("‡ not in the engine's bench JSON given (the shape is not in that bench set).")
        elif srcs != {0}:
            mark = " †"
            notes.add(
                "† the engine's figures for this shape come from a later --ours file: "
                + ", ".join(ours_paths[1:])
                + "."
            )
        lines.append(
            f"| {label}{mark} | {ms(o_fwd)} | {ms(b_fwd)} | {ratio(b_fwd, o_fwd)} | {o_fb_s} "
            f"| {ms(b_fb)} | {ratio(b_fb, o_fb)} | {warm} |"
        )
    lines.append("")
    lines.append("burn/ours above 1: the engine is faster.")
    for n in sorted(notes):
        lines.append(n)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ours", action="append", required=True, metavar="FILE",
                    help="the engine's `bench --json` output (repeatable; first file wins)")
    ap.add_argument("--burn", action="append", required=True, metavar="FILE",
                    help="tools/burn_bench's --json output (repeatable: rows are joined, first wins)")
    ap.add_argument("--out", metavar="FILE", help="also write the table here")
    a = ap.parse_args()
    ours = [load(p) for p in a.ours]
    burn = merge_burn([load(p) for p in a.burn])
    text = table(ours, a.ours, burn)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
