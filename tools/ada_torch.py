"""ADA's "bgc" augmentations in PyTorch (f64), transcribed from NVlabs stylegan2-ada-pytorch
`training/augment.py` (AugmentPipe: the same matrix composition, in the same order, with the
same distributions), but drawing its random numbers from a port of our Philox streams
(`src/nn/augment.rs`: key seed ^ AUG_KEY, counter (step << 32) + (stage << 24) + image), so
that for the same (seed, step, first, p) it draws exactly what the engine draws.

Two resamplings of the geometric part:
  engine   - F.affine_grid + F.grid_sample(bilinear, reflection, align_corners=False), the
             engine's stated simplification (no supersampling; reflection about pixel edges);
  official - augment.py's: F.pad(mode='reflect') by a margin from the transformed corners,
             2x upsample with the sym6 wavelet filter, grid_sample (zeros), 2x downsample.

Used by `tools/pytorch_bench.py --check-augment FILE` (cases written by tests/ada_pytorch.rs)
and by its `--check` (`self_check`). Needs only torch.
"""

import json
import math

import torch
import torch.nn.functional as F

from stylegan2_torch import upfirdn2d

F64 = torch.float64
M32, M64 = 0xFFFFFFFF, 2**64 - 1
AUG_KEY = 0xADA06E0D5EED0001  # src/nn/augment.rs AUG_KEY

# augment.py's wavelets['sym6'] (the geometric path's low-pass filter).
SYM6 = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148]

# The "bgc" preset of train.py (every strength 1) with augment.py's default magnitudes.
BGC = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
           brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
MAGNITUDES = dict(xint_max=0.125, scale_std=0.2, rotate_max=1, aniso_std=0.2, xfrac_std=0.125,
                  brightness_std=0.2, contrast_std=0.5, hue_max=1, saturation_std=1)


# ---- Philox 4x32-10 (src/cpu/random.rs), on Python ints --------------------------------

def philox4x32_10(c, key):
    c0, c1, c2, c3 = c
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & M32, (p0 >> 32) ^ c3 ^ k1, p0 & M32
    return c0, c1, c2, c3


def words(seed, offset, i):
    ctr = (offset + i) & M64
    return philox4x32_10((ctr & M32, ctr >> 32, 0, 0), (seed & M32, (seed >> 32) & M32))


def uniform01(x):
    return (x >> 8) * (1.0 / 16777216.0)


def normal(x0, x1):
    u1 = ((x0 >> 8) + 1.0) * (1.0 / 16777216.0)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(math.tau * uniform01(x1))


class Draws:
    """The engine's per-image draws: stage s of image b is words(seed ^ AUG_KEY,
    (step << 32) + (s << 24), first + b); `u` and `randn` give [n] tensors from its words."""

    def __init__(self, seed, step, first, n):
        self.seed, self.step, self.first, self.n = seed ^ AUG_KEY, step, first, n

    def words(self, stage):
        off = (((self.step << 32) & M64) + (stage << 24)) & M64
        return [words(self.seed, off, self.first + b) for b in range(self.n)]

    def u(self, stage, k):
        return torch.tensor([uniform01(w[k]) for w in self.words(stage)], dtype=F64)

    def randn(self, stage, k0, k1):
        return torch.tensor([normal(w[k0], w[k1]) for w in self.words(stage)], dtype=F64)


# ---- augment.py's matrix helpers ---------------------------------------------------------

def matrix(*rows):
    elems = [x for row in rows for x in row]
    ref = [x for x in elems if isinstance(x, torch.Tensor)]
    if not ref:
        return torch.tensor(rows, dtype=F64)
    elems = [x if isinstance(x, torch.Tensor) else torch.full_like(ref[0], float(x)) for x in elems]
    return torch.stack(elems, dim=-1).reshape(ref[0].shape + (len(rows), -1))


def translate2d(tx, ty):
    return matrix([1, 0, tx], [0, 1, ty], [0, 0, 1])


def translate3d(tx, ty, tz):
    return matrix([1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1])


def scale2d(sx, sy):
    return matrix([sx, 0, 0], [0, sy, 0], [0, 0, 1])


def scale3d(sx, sy, sz):
    return matrix([sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1])


def rotate2d(theta):
    return matrix([torch.cos(theta), torch.sin(-theta), 0], [torch.sin(theta), torch.cos(theta), 0], [0, 0, 1])


def rotate3d(v, theta):
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return matrix([vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
                  [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
                  [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
                  [0, 0, 0, 1])


def translate2d_inv(tx, ty):
    return translate2d(-tx, -ty)


def scale2d_inv(sx, sy):
    return scale2d(1 / sx, 1 / sy)


def rotate2d_inv(theta):
    return rotate2d(-theta)


# ---- upfirdn2d: tools/stylegan2_torch.py's (the official reference path) ----


def upsample2d(x, f, up=2):
    fw = f.shape[0]
    p = [(fw + up - 1) // 2, (fw - up) // 2] * 2
    return upfirdn2d(x, f, up=up, padding=p, gain=up * up)


def downsample2d(x, f, down=2, padding=0, flip_filter=False):
    fw = f.shape[0]
    p = [padding + (fw - down + 1) // 2, padding + (fw - down) // 2] * 2
    return upfirdn2d(x, f, down=down, padding=p, flip_filter=flip_filter)


# ---- the pipeline --------------------------------------------------------------------------

class AugmentPipe:
    """augment.py's AugmentPipe ("bgc" by default; keyword arguments override strengths and
    magnitudes). `grey_lumaflip`: whether luma flip acts on 1-channel images (the official code
    applies it, which negates them; the engine leaves it out)."""

    def __init__(self, grey_lumaflip=True, **kw):
        bad = set(kw) - set(BGC) - set(MAGNITUDES)
        if bad:
            raise ValueError(f"unknown augmentation settings {sorted(bad)}")
        for k, v in {**BGC, **MAGNITUDES, **kw}.items():
            setattr(self, k, float(v))
        self.grey_lumaflip = grey_lumaflip
        f = torch.tensor(SYM6, dtype=F64)
        self.Hz_geom = f / f.sum()  # upfirdn2d.setup_filter

    def geometric_matrix(self, d, p, height, width):
        """G_inv [n, 3, 3]: output pixel -> input pixel, centred coordinates."""
        G_inv = torch.eye(3, dtype=F64).repeat(d.n, 1, 1)
        if self.xflip > 0:
            i = torch.floor(d.u(0, 0) * 2)
            i = torch.where(d.u(0, 1) < self.xflip * p, i, torch.zeros_like(i))
            G_inv = G_inv @ scale2d_inv(1 - 2 * i, 1)
        if self.rotate90 > 0:
            i = torch.floor(d.u(1, 0) * 4)
            i = torch.where(d.u(1, 1) < self.rotate90 * p, i, torch.zeros_like(i))
            G_inv = G_inv @ rotate2d_inv(-math.pi / 2 * i)
        if self.xint > 0:
            t = (torch.stack([d.u(2, 0), d.u(2, 1)], dim=1) * 2 - 1) * self.xint_max
            t = torch.where(d.u(2, 2)[:, None] < self.xint * p, t, torch.zeros_like(t))
            # torch.round ties to even, the engine's f64::round away from zero: they differ
            # only where t * width is exactly k + 1/2 (a 24-bit draw makes that ~2^-24 rare).
            G_inv = G_inv @ translate2d_inv(torch.round(t[:, 0] * width), torch.round(t[:, 1] * height))
        if self.scale > 0:
            s = torch.exp2(d.randn(3, 0, 1) * self.scale_std)
            s = torch.where(d.u(3, 2) < self.scale * p, s, torch.ones_like(s))
            G_inv = G_inv @ scale2d_inv(s, s)
        p_rot = 1 - math.sqrt(min(max(1 - self.rotate * p, 0.0), 1.0))  # P(pre OR post) = p
        if self.rotate > 0:
            theta = (d.u(4, 0) * 2 - 1) * math.pi * self.rotate_max
            theta = torch.where(d.u(4, 1) < p_rot, theta, torch.zeros_like(theta))
            G_inv = G_inv @ rotate2d_inv(-theta)  # Before anisotropic scaling.
        if self.aniso > 0:
            s = torch.exp2(d.randn(5, 0, 1) * self.aniso_std)
            s = torch.where(d.u(5, 2) < self.aniso * p, s, torch.ones_like(s))
            G_inv = G_inv @ scale2d_inv(s, 1 / s)
        if self.rotate > 0:
            theta = (d.u(6, 0) * 2 - 1) * math.pi * self.rotate_max
            theta = torch.where(d.u(6, 1) < p_rot, theta, torch.zeros_like(theta))
            G_inv = G_inv @ rotate2d_inv(-theta)  # After anisotropic scaling.
        if self.xfrac > 0:
            t = torch.stack([d.randn(7, 0, 1), d.randn(7, 2, 3)], dim=1) * self.xfrac_std
            t = torch.where(d.u(8, 0)[:, None] < self.xfrac * p, t, torch.zeros_like(t))
            G_inv = G_inv @ translate2d_inv(t[:, 0] * width, t[:, 1] * height)
        return G_inv

    def colour_matrix(self, d, p, num_channels):
        """C [n, 4, 4]: C @ colour_in ==> colour_out."""
        I_4 = torch.eye(4, dtype=F64)
        C = I_4.repeat(d.n, 1, 1)
        if self.brightness > 0:
            b = d.randn(16, 0, 1) * self.brightness_std
            b = torch.where(d.u(16, 2) < self.brightness * p, b, torch.zeros_like(b))
            C = translate3d(b, b, b) @ C
        if self.contrast > 0:
            c = torch.exp2(d.randn(17, 0, 1) * self.contrast_std)
            c = torch.where(d.u(17, 2) < self.contrast * p, c, torch.ones_like(c))
            C = scale3d(c, c, c) @ C
        v = torch.tensor([1, 1, 1, 0], dtype=F64) / math.sqrt(3)  # Luma axis.
        if self.lumaflip > 0 and (num_channels > 1 or self.grey_lumaflip):
            i = torch.floor(d.u(18, 0) * 2)[:, None, None]
            i = torch.where(d.u(18, 1)[:, None, None] < self.lumaflip * p, i, torch.zeros_like(i))
            C = (I_4 - 2 * v.outer(v) * i) @ C  # Householder reflection.
        if self.hue > 0 and num_channels > 1:
            theta = (d.u(19, 0) * 2 - 1) * math.pi * self.hue_max
            theta = torch.where(d.u(19, 1) < self.hue * p, theta, torch.zeros_like(theta))
            C = rotate3d(v, theta) @ C  # Rotate around v.
        if self.saturation > 0 and num_channels > 1:
            s = torch.exp2(d.randn(20, 0, 1) * self.saturation_std)[:, None, None]
            s = torch.where(d.u(20, 2)[:, None, None] < self.saturation * p, s, torch.ones_like(s))
            C = (v.outer(v) + (I_4 - v.outer(v)) * s) @ C
        return C

    def resample_official(self, images, G_inv):
        """augment.py's "Execute geometric transformations" block."""
        batch_size, num_channels, height, width = images.shape
        Hz_pad = self.Hz_geom.shape[0] // 4
        cx, cy = (width - 1) / 2, (height - 1) / 2
        cp = matrix([-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1])  # [idx, xyz]
        cp = G_inv @ cp.t()  # [batch, xyz, idx]
        margin = cp[:, :2, :].permute(1, 0, 2).flatten(1)  # [xy, batch * idx]
        margin = torch.cat([-margin, margin]).max(dim=1).values  # [x0, y0, x1, y1]
        margin = margin + torch.tensor([Hz_pad * 2 - cx, Hz_pad * 2 - cy] * 2, dtype=F64)
        margin = margin.max(torch.tensor([0, 0] * 2, dtype=F64))
        margin = margin.min(torch.tensor([width - 1, height - 1] * 2, dtype=F64))
        mx0, my0, mx1, my1 = (int(m) for m in margin.ceil())
        images = F.pad(input=images, pad=[mx0, mx1, my0, my1], mode='reflect')
        G_inv = translate2d((mx0 - mx1) / 2, (my0 - my1) / 2) @ G_inv
        images = upsample2d(images, self.Hz_geom, up=2)
        G_inv = scale2d(2, 2) @ G_inv @ scale2d_inv(2, 2)
        G_inv = translate2d(-0.5, -0.5) @ G_inv @ translate2d_inv(-0.5, -0.5)
        shape = [batch_size, num_channels, (height + Hz_pad * 2) * 2, (width + Hz_pad * 2) * 2]
        G_inv = scale2d(2 / images.shape[3], 2 / images.shape[2]) @ G_inv @ scale2d_inv(2 / shape[3], 2 / shape[2])
        grid = F.affine_grid(theta=G_inv[:, :2, :], size=shape, align_corners=False)
        images = F.grid_sample(images, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
        return downsample2d(images, self.Hz_geom, down=2, padding=-Hz_pad * 2, flip_filter=True)

    @staticmethod
    def theta(G_inv, height, width):
        """affine_grid's theta [n, 2, 3] of the centred-pixel G_inv (no padding/supersampling)."""
        return (scale2d(2 / width, 2 / height) @ G_inv @ scale2d_inv(2 / width, 2 / height))[:, :2, :]

    @staticmethod
    def resample_engine(images, theta):
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode='bilinear', padding_mode='reflection', align_corners=False)

    @staticmethod
    def apply_colour(images, C):
        batch_size, num_channels, height, width = images.shape
        images = images.reshape([batch_size, num_channels, height * width])
        if num_channels == 3:
            images = C[:, :3, :3] @ images + C[:, :3, 3:]
        elif num_channels == 1:
            C = C[:, :3, :].mean(dim=1, keepdim=True)
            images = images * C[:, :, :3].sum(dim=2, keepdim=True) + C[:, :, 3:]
        else:
            raise ValueError('Image must be RGB (3 channels) or L (1 channel)')
        return images.reshape([batch_size, num_channels, height, width])

    def __call__(self, images, p, seed, step, first=0, mode="engine"):
        """Augment images [n, C, H, W] (f64). Returns a dict: geometric (after the resample),
        y (after colour), G_inv, theta, C. `engine` mirrors the engine's shortcuts (p <= 0:
        the images as they are; no resample when every G_inv is the identity); `official`
        resamples whenever a geometric strength is nonzero, as augment.py does."""
        n, c, h, w = images.shape
        d = Draws(seed, step, first, n)
        G_inv, C = self.geometric_matrix(d, p, h, w), self.colour_matrix(d, p, c)
        theta = self.theta(G_inv, h, w)
        out = dict(G_inv=G_inv, theta=theta, C=C, geometric=images, y=images)
        if mode == "engine":
            if p <= 0:
                return out
            if not torch.equal(G_inv, torch.eye(3, dtype=F64).expand_as(G_inv)):
                out["geometric"] = self.resample_engine(images, theta)
        elif mode == "official":
            if any(getattr(self, k) > 0 for k in ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")):
                out["geometric"] = self.resample_official(images, G_inv)
        else:
            raise ValueError(f"mode {mode!r}: engine or official")
        out["y"] = self.apply_colour(out["geometric"], C)
        return out


# ---- checks -----------------------------------------------------------------------------

def fold(k, n):
    """Half-sample symmetric reflection of integer index k into 0..n (grid_sample's)."""
    m = k % (2 * n)
    return 2 * n - 1 - m if m >= n else m


def self_check(ok):
    """Small checks for pytorch_bench.py --check; `ok(cond, what)` records each."""
    g = torch.Generator().manual_seed(3)
    pipe = AugmentPipe()
    ok(philox4x32_10((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0))
       == (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1), "ada: philox known answer")
    for c in (1, 3):
        x = torch.rand(4, c, 8, 12, generator=g, dtype=F64) * 2 - 1
        r = pipe(x, 0.0, 9, 2, first=3)
        ok(torch.equal(r["G_inv"], torch.eye(3, dtype=F64).expand(4, 3, 3))
           and torch.equal(r["C"], torch.eye(4, dtype=F64).expand(4, 4, 4)) and torch.equal(r["y"], x),
           f"ada: p = 0 is the identity exactly ({c} channels)")
        off = (pipe(x, 0.0, 9, 2, mode="official")["y"] - x).abs().max().item()
        ok(off < 1e-9, f"ada: official resample at p = 0 is the identity to {off:.1e} ({c} channels)")
        for mode in ("engine", "official"):
            y = pipe(x, 1.0, 9, 2, first=3, mode=mode)["y"]
            ok(bool(torch.isfinite(y).all()) and y.shape == x.shape, f"ada: {mode} output finite ({c} channels)")
    # Integer translation alone: an exact shift with grid_sample's reflection.
    shift = AugmentPipe(**{k: 0 for k in BGC if k != "xint"}, xint_max=0.5)
    n, h, w = 6, 8, 12
    x = torch.rand(n, 3, h, w, generator=g, dtype=F64)
    r = shift(x, 1.0, 4, 1)
    t = r["G_inv"][:, :2, 2]
    want = torch.empty_like(x)
    for b in range(n):
        ty, tx = int(t[b, 1]), int(t[b, 0])
        for i in range(h):
            for j in range(w):
                want[b, :, i, j] = x[b, :, fold(i + ty, h), fold(j + tx, w)]
    moved = sum(int(t[b].abs().sum() > 0) for b in range(n))
    err = (r["y"] - want).abs().max().item()
    ok(moved >= n // 2 and err < 1e-12,
       f"ada: integer translation is a reflected shift ({moved}/{n} moved, error {err:.1e})")


def check_file(path):
    """--check-augment FILE: recompute each case (tests/ada_pytorch.rs) in engine mode, compare
    with the engine's outputs; print the official resampling's distance. Returns the exit code."""
    with open(path) as f:
        doc = json.load(f)
    tol = float(doc.get("tol", 1e-9))
    pipe = AugmentPipe(grey_lumaflip=bool(doc.get("grey_lumaflip", True)))
    official_pipe = AugmentPipe()
    failed, flips = 0, 0
    print(f"check-augment: {path}, {len(doc['cases'])} cases, tolerance {tol:g}")
    for case in doc["cases"]:
        n, c, h, w = case["shape"]
        t = lambda k: torch.tensor(case[k], dtype=F64)  # noqa: E731
        x = t("x").reshape(n, c, h, w)
        args = (x, float(case["p"]), int(case["seed"]), int(case["step"]), int(case["first"]))
        r = pipe(*args)
        errs = {
            "theta": (r["theta"].reshape(n, 6) - t("theta")).abs().max().item(),
            "colour": (r["C"][:, :3, :] - t("colour").reshape(n, 3, 4)).abs().max().item(),
            "geometric": (r["geometric"].flatten() - t("geometric")).abs().max().item(),
            "y": (r["y"].flatten() - t("y")).abs().max().item(),
        }
        bad = [k for k, e in errs.items() if not e <= tol]
        failed += bool(bad)
        o = official_pipe(*args, mode="official")
        dg = (o["geometric"] - r["geometric"]).abs()
        # The same on a smooth image (a low-frequency cosine): what the resamplers' filters and
        # reflections make of content that is not noise.
        ii, jj = torch.meshgrid(torch.arange(h, dtype=F64) + 0.5, torch.arange(w, dtype=F64) + 0.5, indexing="ij")
        sm = (torch.cos(math.pi * ii / h + 0.3) * torch.cos(2 * math.pi * jj / w)).expand(n, c, h, w)
        smooth = (official_pipe(sm, *args[1:], mode="official")["geometric"]
                  - official_pipe(sm, *args[1:], mode="engine")["geometric"]).abs()
        if c == 1:  # grey images whose gain the official code's luma flip negates
            gain = lambda C: C[:, :3, :3].sum(dim=(1, 2))  # noqa: E731
            flips += int((gain(o["C"]) * gain(r["C"]) < 0).sum())
        print(f"  {'FAIL' if bad else 'ok  '} {case['name']:<28} max |ours - torch|: "
              + ", ".join(f"{k} {e:.1e}" for k, e in errs.items())
              + f" | official resample vs engine: noise max {dg.max().item():.3f} mean {dg.mean().item():.3f},"
              f" smooth max {smooth.max().item():.3f} mean {smooth.mean().item():.4f}")
    if flips and not pipe.grey_lumaflip:
        print(f"  note: the official code's luma flip would negate {flips} of these grey images; "
              "the engine (as the file says) leaves it out")
    print(f"check-augment: {len(doc['cases']) - failed} cases passed, {failed} failed")
    return 1 if failed else 0
