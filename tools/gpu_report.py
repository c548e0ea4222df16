#!/usr/bin/env python3
"""Assemble OUTDIR/report.md from what tools/gpu-report.sh left in OUTDIR: a summary table of
the benchmark targets (measured value, met or missed), then each stage's output.

    python3 tools/gpu_report.py OUTDIR [--quick]
    python3 tools/gpu_report.py --unpack-deb FILE.deb DIR   # where dpkg-deb is missing

Standard library only: the GPU machine has python3 but not necessarily anything else.
"""

import io
import json
import os
import statistics
import sys
import tarfile

# The targets of the benchmark issue.
CONV_FMA_TARGET = 0.50  # conv at 64+ channels, fraction of the FMA ceiling
COPY_TARGET = 0.60  # memory-bound kernels, fraction of the copy ceiling
IMG_S_TARGET_256 = 57.0  # schedule-weighted img/s of the 256x256 schedule on one H100
# Kernels whose work is moving bytes (their FLOP are few per byte).
MEMORY_BOUND = {"noise_bias_act", "upsample2x", "downsample2x", "blur", "leaky_relu", "adam", "ema"}


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def load_json(path):
    text = read(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def channels(shape):
    """C and K of a conv shape string such as 'N=16 C=256 K=256 H=32 W=32 k=3'."""
    kv = dict(p.split("=", 1) for p in shape.split() if "=" in p)
    try:
        return int(kv.get("C", 0)), int(kv.get("K", 0))
    except ValueError:
        return 0, 0


def pct(x):
    return f"{100 * x:.1f}%"


def conv_target(bench):
    rows = [k for k in bench.get("kernels", []) if k["name"].startswith("conv2d")]
    big = [k for k in rows if min(channels(k["shape"])) >= 64 and k.get("frac_fma") is not None]
    if not big:
        return ("conv >= 50% of the FMA ceiling at 64+ channels", "no conv row with 64+ channels at these shapes", "n/a")
    fr = [k["frac_fma"] for k in big]
    worst = min(big, key=lambda k: k["frac_fma"])
    med = statistics.median(fr)
    value = f"median {pct(med)} over {len(big)} rows (worst {pct(worst['frac_fma'])}: {worst['name']} {worst['shape']})"
    return ("conv >= 50% of the FMA ceiling at 64+ channels", value, "met" if med >= CONV_FMA_TARGET else "missed")


def copy_target(bench):
    rows = [k for k in bench.get("kernels", []) if k["name"] in MEMORY_BOUND and k.get("frac_copy") is not None]
    if not rows:
        return ("memory-bound kernels >= 60% of copy", "no memory-bound rows", "n/a")
    fr = [k["frac_copy"] for k in rows]
    worst = min(rows, key=lambda k: k["frac_copy"])
    med = statistics.median(fr)
    value = f"median {pct(med)} over {len(rows)} rows (worst {pct(worst['frac_copy'])}: {worst['name']} {worst['shape']})"
    return ("memory-bound kernels >= 60% of copy", value, "met" if med >= COPY_TARGET else "missed")


def torch_target(bench, torch):
    name = "training step faster than PyTorch up to 64x64"
    if torch is None:
        return (name, "PyTorch not measured (no torch with CUDA, or its stage failed)", "not available")
    ours = {s["res"]: s for s in bench.get("train_step", [])}
    theirs = {s["res"]: s for s in torch.get("train_step", [])}
    pairs = [(r, ours[r]["images_per_s"], theirs[r]["images_per_s"]) for r in sorted(ours)
             if r <= 64 and r in theirs and theirs[r].get("images_per_s")]
    if not pairs:
        return (name, "no resolution measured by both", "n/a")
    ratios = ", ".join(f"{r}x{r}: {a / b:.2f}x" for r, a, b in pairs)
    met = all(a >= b for _, a, b in pairs)
    return (name, f"ours/torch img/s {ratios}", "met" if met else "missed")


def memory_target(bench, torch):
    """Our step's pool peak against PyTorch's max_memory_allocated on the same step."""
    name = "step peak memory <= 1.25x PyTorch's"
    if torch is None:
        return (name, "PyTorch not measured (no torch with CUDA, or its stage failed)", "not available")
    ours = {s["res"]: s for s in bench.get("train_step", []) if s.get("peak_mib")}
    pairs = [(s["res"], ours[s["res"]]["peak_mib"], s["peak_mem_mb"]) for s in torch.get("train_step", [])
             if s.get("peak_mem_mb") and s["res"] in ours]
    if not pairs:
        return (name, "no resolution with both peaks", "n/a")
    ratios = ", ".join(f"{r}x{r}: {a / b:.2f}x" for r, a, b in pairs)
    return (name, f"ours/torch {ratios}", "met" if all(a <= 1.25 * b for _, a, b in pairs) else "missed")


def schedule_target(bench, quick):
    """Images per second over the whole progressive schedule up to the largest resolution
    measured: each phase shows the same number of images (4x4: one stable phase; every
    higher resolution: a fade and a stable phase), so the rate is a weighted harmonic mean."""
    steps = sorted(bench.get("train_step", []), key=lambda s: s["res"])
    steps = [s for s in steps if s.get("images_per_s")]
    if not steps:
        return ("schedule-weighted img/s at 256x256 (goal 57 on one H100)", "no training-step rows", "n/a")
    top = steps[-1]["res"]
    phases = [(s["res"], 1 if s["res"] == steps[0]["res"] else 2) for s in steps]
    images = sum(n for _, n in phases)
    seconds = sum(n / s["images_per_s"] for (_, n), s in zip(phases, steps))
    rate = images / seconds
    name = "schedule-weighted img/s at 256x256 (goal 57 on one H100)"
    if top < 256:
        return (name, f"{rate:.1f} img/s up to {top}x{top} (quick shapes: not the 256x256 model)", "n/a")
    return (name, f"{rate:.1f} img/s", "met" if rate >= IMG_S_TARGET_256 else "missed")


def stylegan2_target(sg2, torch2):
    """StyleGAN2's weighted step (lazy R1 and path length in) at its largest resolution, ours
    against PyTorch's img/s, and every resolution both measured."""
    name = "StyleGAN2 step img/s at 256x256 next to PyTorch's"
    if sg2 is None:
        return (name, "not measured (stage sg2 not run or failed)", "not available")
    ours = {s["res"]: s for s in sg2.get("train_step", []) if s.get("images_per_s")}
    if not ours:
        return (name, "no StyleGAN2 step rows", "n/a")
    theirs = {s["res"]: s for s in (torch2 or {}).get("train_step", []) if s.get("images_per_s")}
    cells = []
    for r in sorted(ours):
        a = ours[r]["images_per_s"]
        b = theirs.get(r, {}).get("images_per_s")
        cells.append(f"{r}x{r}: {a:.1f}" + (f" vs {b:.1f} ({a / b:.2f}x)" if b else ""))
    top = max(ours)
    b = theirs.get(top, {}).get("images_per_s")
    result = "n/a" if not b else ("met" if ours[top]["images_per_s"] >= b else "missed")
    return (name, "img/s ours vs torch " + ", ".join(cells), result)


def gradcheck_line(out):
    log = read(os.path.join(out, "gradcheck.log")) or ""
    for line in reversed(log.splitlines()):
        if " passed, " in line and " failed" in line:
            return line.strip()
    return None


def stages(out):
    rows = []
    for line in (read(os.path.join(out, "stages.tsv")) or "").splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            rows.append(parts)
    return rows


def fence(text, limit=60000):
    if text is None:
        return "_(no output)_\n"
    if len(text) > limit:
        text = text[:limit] + f"\n... ({len(text) - limit} more characters in the log file)\n"
    return "```\n" + text.rstrip() + "\n```\n"


def report(out, quick):
    bench = load_json(os.path.join(out, "bench.json"))
    torch = load_json(os.path.join(out, "torch.json"))
    sg2 = load_json(os.path.join(out, "sg2.json"))
    torch2 = load_json(os.path.join(out, "torch2.json"))
    info = read(os.path.join(out, "info.log"))
    lines = ["# GPU report", ""]
    adapter = (bench or sg2 or {}).get("device", {})
    if adapter:
        lines.append(f"Adapter: **{adapter.get('name')}** ({adapter.get('backend')}"
                     f"{', software' if adapter.get('software') else ''}), driver {adapter.get('driver')}.")
    ceilings = (bench or sg2 or {}).get("ceilings")
    if ceilings:
        c = ceilings
        lines.append(f"Ceilings measured in the same run: FMA {c['fma_gflops']:.1f} GFLOP/s, copy {c['copy_gbs']:.1f} GB/s.")
    lines.append(f"Mode: {'--quick (small shapes)' if quick else 'full (training shapes)'}.")
    gc = gradcheck_line(out)
    if gc:
        lines.append(f"Gradient checks on this device: {gc}.")
    lines += ["", "## Targets", "", "| target | measured | result |", "|---|---|---|"]
    if bench:
        targets = [conv_target(bench), copy_target(bench), torch_target(bench, torch),
                   schedule_target(bench, quick), memory_target(bench, torch)]
    else:
        targets = [(t, "bench did not produce bench.json", "not available") for t in
                   ("conv >= 50% of the FMA ceiling at 64+ channels", "memory-bound kernels >= 60% of copy",
                    "training step faster than PyTorch up to 64x64", "schedule-weighted img/s at 256x256",
                    "step peak memory <= 1.25x PyTorch's")]
    targets.append(stylegan2_target(sg2, torch2))
    for name, value, result in targets:
        lines.append(f"| {name} | {value} | {result} |")
    lines += ["", "## Stages", "", "| stage | outcome | seconds | command |", "|---|---|---|---|"]
    for name, status, secs, cmd in stages(out):
        lines.append(f"| {name} | {status} | {secs} | `{cmd}` |")
    for name, title in [("info", "Adapter (`info`)"), ("gradcheck", "Gradient checks (`gradcheck`)"),
                        ("sg2", "StyleGAN2 training steps (`bench --arch stylegan2`)"),
                        ("pytorch2", "PyTorch's StyleGAN2 step side by side"),
                        ("bench", "Kernels and training steps (`bench`)"), ("pytorch", "PyTorch side by side"),
                        ("train", "Profiled training run (`SGW_PROFILE=1 train`)")]:
        lines += ["", f"## {title}", ""]
        text = info if name == "info" else read(os.path.join(out, f"{name}.log"))
        if text is None and name in ("pytorch", "pytorch2"):
            lines.append("_not available: torch with CUDA is not installed here_")
            continue
        lines.append(fence(text))
        if name == "train":
            prof = read(os.path.join(out, "profile.txt"))
            lines += ["Per-kernel GPU time of the run (`profile.txt`):", "", fence(prof)]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def unpack_deb(deb, dest):
    """Extract a .deb's data archive (an ar archive holding data.tar.*) into dest."""
    with open(deb, "rb") as f:
        blob = f.read()
    if not blob.startswith(b"!<arch>\n"):
        sys.exit(f"{deb}: not a .deb (ar) archive")
    pos = 8
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = blob[pos + 60:pos + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                sys.exit(f"{deb}: zstd-compressed data needs dpkg-deb")
            with tarfile.open(fileobj=io.BytesIO(body)) as t:
                t.extractall(dest)
            return
        pos += 60 + size + (size % 2)
    sys.exit(f"{deb}: no data.tar member")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--unpack-deb"] and len(args) == 3:
        unpack_deb(args[1], args[2])
        return
    quick = "--quick" in args
    rest = [a for a in args if a != "--quick"]
    if len(rest) != 1:
        sys.exit(__doc__)
    report(rest[0], quick)


if __name__ == "__main__":
    main()
