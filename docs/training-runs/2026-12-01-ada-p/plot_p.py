"""ADA's p and r_t on a small and a large dataset (TRAINING.md, "p on small and large data").
Reads <run>/metrics.csv of the four runs; writes ada-p-rt.png."""
import csv
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

root = sys.argv[1] if len(sys.argv) > 1 else "."
out = sys.argv[2] if len(sys.argv) > 2 else "ada-p-rt.png"


def rows(run):
    with open(f"{root}/{run}-metrics.csv") as f:
        r = [x for x in csv.DictReader(f)]
    num = lambda x: float(x) if x not in ("", None) else float("nan")  # noqa: E731
    return ([num(x["kimg"]) for x in r], [num(x["p"]) for x in r], [num(x["rt"]) for x in r],
            [num(x["generator_variance"]) for x in r])


fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True)
for col, (data, title) in enumerate([("mni", "MNI template, 137 slices (small)"),
                                     ("phantom", "phantom, 2048 images (large)")]):
    ax = axes[0][col]
    k, p, rt, var = rows(f"{data}-fast")
    k0, _, rt0, var0 = rows(f"{data}-probe")
    ax.plot(k0, rt0, "o-", color="tab:gray", label="r_t, no augmentation (p held at 0)")
    ax.plot(k, rt, "o-", color="tab:blue", label="r_t, ADA")
    ax.plot(k, p, "s-", color="tab:red", label="p, ADA")
    ax.axhline(0.6, ls="--", color="k", lw=0.8, label="target 0.6")
    ax.set_ylim(-0.05, 1.0)
    ax.set_title(title)
    if col == 0:
        ax.set_ylabel("r_t = E[sign D(real)], p")
    ax.legend(fontsize=7, loc="upper right")
    ax = axes[1][col]
    ax.plot(k0, [100 * v for v in var0], "o-", color="tab:gray", label="no augmentation")
    ax.plot(k, [100 * v for v in var], "o-", color="tab:blue", label="ADA")
    ax.axhline(100, ls="--", color="k", lw=0.8)
    ax.axhline(20, ls=":", color="tab:red", lw=0.8, label="20%: collapse warning")
    ax.set_yscale("log")
    ax.set_xlabel("kimg")
    if col == 0:
        ax.set_ylabel("generator variance, % of data's")
    ax.legend(fontsize=7)
fig.suptitle("StyleGAN2 16x16, ADA at 100x the official speed (ada_kimg 5), CPU, seed 1")
fig.tight_layout()
fig.savefig(out, dpi=90)
print("wrote", out)
