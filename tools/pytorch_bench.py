#!/usr/bin/env python3
r"""PyTorch side-by-side for the stylegan-wgpu engine.

Builds the same StyleGAN 1 (the engine's src/nn and src/train, NVlabs details) in PyTorch,
fp32 with TF32 off, and times on this machine:

  (a) the engine's benchmark ops at the same shapes, with the same names and shape strings
      (`cargo run --release -- bench --json ours.json` writes the engine's side), and
  (b) one full training step per resolution (D step with WGAN-GP, G step, Adam, G_ema).

Then it prints a table, and with `--ours ours.json` the engine's numbers and the ratio
(>1 means the engine is faster). `--json OUT` writes this run in the engine's schema.

With `--load` it instead loads an engine checkpoint's G_ema (config from the checkpoint) and
draws the picture grid that `stylegan-wgpu generate` draws, at the checkpoint's resolution and
fade alpha, with the same latents, truncation and noise maps (Philox, reproduced here):

    python3 tools/pytorch_bench.py --load runs/X --latents z.npy --truncation 0.7 \
        --noise none --out grid.png --npy torch.npy  # compare with `generate ... --npy ours.npy`
    python3 tools/pytorch_bench.py --load runs/X/checkpoint.safetensors --seeds 1,2,3

The benchmark needs only torch and the standard library; --load also needs numpy:

    python3 tools/pytorch_bench.py --quick --device cpu       # tiny shapes, < 2 min on a laptop
    python3 tools/pytorch_bench.py --device cuda --ours ours.json --json torch.json
    python3 tools/pytorch_bench.py --check --quick            # model sanity checks only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import sys
import time
import warnings

warnings.filterwarnings("ignore", message=".*NumPy.*")

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("pytorch_bench.py needs PyTorch: `pip install torch` (any recent version)")

SQRT2 = math.sqrt(2.0)
EPS = 1e-8  # instance norm, pixel norm and minibatch stddev epsilon (official)
DEFAULT_BATCH = {4: 128, 8: 128, 16: 128, 32: 64, 64: 32, 128: 16, 256: 8, 512: 4, 1024: 4}

# ----------------------------------------------------------------------------------------
# Model configuration (src/nn/mod.rs ModelConfig)
# ----------------------------------------------------------------------------------------


class Cfg:
    def __init__(self, z_dim=512, w_dim=512, fmap_base=16384, fmap_max=512, channels=1, max_res=256,
                 mapping_layers=8, mapping_lr_mul=0.01, mbstd_group=4, start_res=4):
        self.z_dim, self.w_dim = z_dim, w_dim
        self.fmap_base, self.fmap_max = fmap_base, fmap_max
        self.channels, self.max_res, self.start_res = channels, max_res, start_res
        self.mapping_layers, self.mapping_lr_mul = mapping_layers, mapping_lr_mul
        self.mbstd_group = mbstd_group

    def nf(self, res):
        """Feature maps at a resolution: min(fmap_base // res, fmap_max), at least 1."""
        return max(1, min(self.fmap_base // res, self.fmap_max))

    def resolutions(self):
        out, r = [], 4
        while r <= self.max_res:
            out.append(r)
            r *= 2
        return out

    def as_dict(self):
        return dict(self.__dict__)


# ----------------------------------------------------------------------------------------
# Ops (each the PyTorch idiom for one engine kernel)
# ----------------------------------------------------------------------------------------


def lrelu(x):
    """StyleGAN 1's leaky ReLU: slope 0.2, no output gain (sqrt(2) is in the weight scale)."""
    return F.leaky_relu(x, 0.2)


def pixel_norm(x):
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + EPS)


def upsample2x(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample2x(x):
    return F.avg_pool2d(x, 2)


_BLUR_KERNELS = {}


def blur(x):
    """Depthwise [1,2,1] x [1,2,1] / 16, zero padding 1 (same size)."""
    c = x.shape[1]
    key = (c, x.device, x.dtype)
    k = _BLUR_KERNELS.get(key)
    if k is None:
        f = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype)
        k = (f[:, None] * f[None, :] / 16.0).expand(c, 1, 3, 3).contiguous().to(x.device)
        _BLUR_KERNELS[key] = k
    return F.conv2d(x, k, padding=1, groups=c)


def noise_bias_act(x, noise, weight, bias):
    """Epilogue: lrelu(x + weight[c] * noise[n,1,h,w] + bias[c])."""
    return lrelu(torch.addcmul(x, noise, weight.view(1, -1, 1, 1)) + bias.view(1, -1, 1, 1))


def adain(x, ys, yb):
    """Instance norm over HxW (biased variance, eps 1e-8), then (1 + ys) * x_hat + yb."""
    return F.instance_norm(x, eps=EPS) * (1.0 + ys)[:, :, None, None] + yb[:, :, None, None]


def adain_reference(x, ys, yb):
    """The formula spelled out (used by --check to validate `adain`)."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = (x - mean).square().mean(dim=(2, 3), keepdim=True)
    return (x - mean) * torch.rsqrt(var + EPS) * (1.0 + ys)[:, :, None, None] + yb[:, :, None, None]


def mbstd_group(group, batch):
    """Largest group size <= min(group, batch) that divides the batch (as the engine)."""
    for g in range(min(group, batch), 0, -1):
        if batch % g == 0:
            return g
    return 1


def minibatch_stddev(x, group=4):
    """Official StyleGAN: [G, M, C, H, W], std over G, mean over C,H,W -> [M], sample n = g*M + m."""
    n, c, h, w = x.shape
    g = mbstd_group(group, n)
    m = n // g
    y = x.reshape(g, m, c, h, w)
    y = y - y.mean(dim=0, keepdim=True)
    y = torch.sqrt(y.square().mean(dim=0) + EPS)  # [M, C, H, W]
    y = y.mean(dim=(1, 2, 3))  # [M]
    y = y.view(1, m).expand(g, m).reshape(n, 1, 1, 1).expand(n, 1, h, w)
    return torch.cat([x, y], dim=1)


# ----------------------------------------------------------------------------------------
# Equalized layers (src/nn/layers.rs)
# ----------------------------------------------------------------------------------------


class EqLinear(nn.Module):
    """y = x @ (w * gain / sqrt(fan_in) * lr_mul)^T + b * lr_mul; w ~ N(0, 1) / lr_mul."""

    def __init__(self, fan_in, out, gain, lr_mul=1.0, bias_init=0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out, fan_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((out,), bias_init / lr_mul))
        self.w_scale = gain / math.sqrt(fan_in) * lr_mul
        self.b_scale = lr_mul

    def forward(self, x):
        b = self.bias if self.b_scale == 1.0 else self.bias * self.b_scale
        return F.linear(x, self.weight * self.w_scale, b)


class EqConv2d(nn.Module):
    """Stride 1, same padding; w ~ N(0, 1) scaled by gain / sqrt(C_in * k * k) at run time.

    The generator's synthesis convs have no bias (`bias=False`): their layer's bias is added
    in the noise epilogue, as in the engine and the official code.
    """

    def __init__(self, cin, cout, k, gain, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale = gain / math.sqrt(cin * k * k)
        self.pad = k // 2

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.pad)


# ----------------------------------------------------------------------------------------
# Generator (src/nn/generator.rs)
# ----------------------------------------------------------------------------------------


class SynthLayer(nn.Module):
    def __init__(self, res, cin, c, w_dim, first):
        super().__init__()
        self.res, self.channels = res, c
        self.upsample = res > 4 and cin is not None and first
        self.conv = None if cin is None else EqConv2d(cin, c, 3, SQRT2, bias=False)
        self.noise_weight = nn.Parameter(torch.zeros(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.style = EqLinear(w_dim, 2 * c, 1.0, 1.0, 0.0)

    def forward(self, x, w, noise=None):
        """`noise` [N, 1, H, W] at this layer's size; None draws torch.randn (training)."""
        if self.conv is not None:
            if self.upsample:
                x = blur(self.conv(upsample2x(x)))
            else:
                x = self.conv(x)
        if noise is None:
            n, _, h, wd = x.shape
            noise = torch.randn(n, 1, h, wd, device=x.device, dtype=x.dtype)
        x = noise_bias_act(x, noise, self.noise_weight, self.bias)
        s = self.style(w)
        return adain(x, s[:, : self.channels], s[:, self.channels:])


class Generator(nn.Module):
    def __init__(self, cfg: Cfg):
        super().__init__()
        self.cfg = cfg
        self.mapping = nn.ModuleList(
            EqLinear(cfg.z_dim if i == 0 else cfg.w_dim, cfg.w_dim, SQRT2, cfg.mapping_lr_mul)
            for i in range(cfg.mapping_layers)
        )
        self.const = nn.Parameter(torch.ones(1, cfg.nf(4), 4, 4))
        self.layers = nn.ModuleList()
        self.to_rgb = nn.ModuleList()
        for res in cfg.resolutions():
            c = cfg.nf(res)
            for j in range(2):
                if res == 4 and j == 0:
                    cin = None
                elif j == 0:
                    cin = cfg.nf(res // 2)
                else:
                    cin = c
                self.layers.append(SynthLayer(res, cin, c, cfg.w_dim, first=(j == 0)))
            self.to_rgb.append(EqConv2d(c, cfg.channels, 1, 1.0))

    def layers_at(self, res):
        return sum(1 for l in self.layers if l.res <= res)

    def map(self, z):
        x = pixel_norm(z)
        for l in self.mapping:
            x = lrelu(l(x))
        return x

    def truncate(self, styles, w_avg, psi, cutoff):
        """Truncation trick: w_avg + psi (w - w_avg) on layers before `cutoff` (the engine's
        `Generator::truncate`; psi == 1 leaves every style as it is)."""
        return [w_avg + (w - w_avg) * psi if i < cutoff and psi != 1.0 else w for i, w in enumerate(styles)]

    def synthesis(self, styles, res, trace=None, alpha=1.0, noise=None):
        """Images [B, channels, res, res]. With alpha < 1 (a fade-in) the output is
        lerp(upsample2x(toRGB of the previous resolution), toRGB(x), alpha). `noise(i, n, h, w)`
        gives layer i's noise map [n, 1, h, w]; None draws torch.randn (training)."""
        b = styles[0].shape[0]
        x = self.const.expand(b, -1, -1, -1)
        prev = None
        for i, l in enumerate(self.layers):
            if l.res > res:
                break
            if l.upsample and l.res == res:
                prev = x
            nz = None if noise is None else noise(i, b, l.res, l.res)
            x = l(x, styles[i], nz)
            if trace is not None:
                trace.append((f"g.{l.res}x{l.res}.{i % 2}", tuple(x.shape), (b, l.channels, l.res, l.res)))
        k = int(math.log2(res)) - 2
        img = self.to_rgb[k](x)
        if prev is not None and alpha < 1.0:
            lo = upsample2x(self.to_rgb[k - 1](prev))
            img = lo + (img - lo) * alpha  # the engine's lerp(lo, img, alpha)
        if trace is not None:
            trace.append(("g.to_rgb", tuple(img.shape), (b, self.cfg.channels, res, res)))
        return img


# ----------------------------------------------------------------------------------------
# Discriminator (src/nn/discriminator.rs)
# ----------------------------------------------------------------------------------------


class DBlock(nn.Module):
    def __init__(self, res, cin, cout):
        super().__init__()
        self.res = res
        self.conv0 = EqConv2d(cin, cin, 3, SQRT2)
        self.conv1 = EqConv2d(cin, cout, 3, SQRT2)

    def forward(self, x):
        x = lrelu(self.conv0(x))
        # blur, conv + bias, 2x2 average, then the activation (bias commutes with the average)
        return lrelu(downsample2x(self.conv1(blur(x))))


class Discriminator(nn.Module):
    def __init__(self, cfg: Cfg):
        super().__init__()
        self.cfg = cfg
        rs = cfg.resolutions()
        self.from_rgb = nn.ModuleList(EqConv2d(cfg.channels, cfg.nf(r), 1, SQRT2) for r in rs)
        self.blocks = nn.ModuleList(DBlock(r, cfg.nf(r), cfg.nf(r // 2)) for r in reversed(rs) if r > 4)
        c4 = cfg.nf(4)
        self.final_conv = EqConv2d(c4 + 1, c4, 3, SQRT2)
        # Official StyleGAN: the first dense layer has nf(0) outputs, here nf(2) (the engine's
        # nf(res) = min(fmap_base / res, fmap_max)), not nf(4).
        self.dense0 = EqLinear(c4 * 16, cfg.nf(2), SQRT2)
        self.dense1 = EqLinear(cfg.nf(2), 1, 1.0)

    def forward(self, img, res, trace=None):
        n = img.shape[0]
        k = int(math.log2(res)) - 2
        x = lrelu(self.from_rgb[k](img))
        if trace is not None:
            trace.append(("d.from_rgb", tuple(x.shape), (n, self.cfg.nf(res), res, res)))
        for blk in self.blocks:
            if blk.res > res:
                continue
            x = blk(x)
            if trace is not None:
                r = blk.res // 2
                trace.append((f"d.{blk.res}x{blk.res}", tuple(x.shape), (n, self.cfg.nf(r), r, r)))
        x = minibatch_stddev(x, self.cfg.mbstd_group)
        c4 = self.cfg.nf(4)
        if trace is not None:
            trace.append(("d.mbstd", tuple(x.shape), (n, c4 + 1, 4, 4)))
        x = lrelu(self.final_conv(x))
        x = lrelu(self.dense0(x.reshape(n, -1)))
        out = self.dense1(x)
        if trace is not None:
            trace.append(("d.out", tuple(out.shape), (n, 1)))
        return out


# ----------------------------------------------------------------------------------------
# Training step (src/train/trainer.rs, src/train/loss.rs)
# ----------------------------------------------------------------------------------------


def make_adam(params, lr=1e-3, betas=(0.0, 0.99)):
    """Adam(beta1 0, beta2 0.99, eps 1e-8): the fused kernel where this torch has it."""
    kw = dict(lr=lr, betas=betas, eps=1e-8)
    for extra, label in (({"fused": True}, "fused"), ({"foreach": True}, "foreach"), ({}, "default")):
        try:
            return torch.optim.Adam(params, **kw, **extra), label
        except (RuntimeError, TypeError, ValueError):
            continue
    raise RuntimeError("no Adam")


class Trainer:
    """G, D, G_ema, two Adams, w_avg. Every parameter of G and D (all resolutions up to
    max_res) is stepped each step, as the engine's flat parameter groups are."""

    def __init__(self, cfg: Cfg, device, seed=1, gp_lambda=10.0, drift=0.001, mixing_prob=0.9,
                 ema_half_life_kimg=10.0, w_avg_beta=0.995):
        torch.manual_seed(seed)
        self.cfg, self.device = cfg, device
        self.G = Generator(cfg).to(device)
        self.D = Discriminator(cfg).to(device)
        self.G_ema = Generator(cfg).to(device).requires_grad_(False)
        self.G_ema.load_state_dict(self.G.state_dict())
        self.g_params = list(self.G.parameters())
        self.d_params = list(self.D.parameters())
        self.ema_params = list(self.G_ema.parameters())
        for p in self.g_params + self.d_params:
            p.grad = torch.zeros_like(p)
        self.opt_g, self.adam_impl = make_adam(self.g_params)
        self.opt_d, _ = make_adam(self.d_params)
        self.w_avg = torch.zeros(1, cfg.w_dim, device=device)
        self.gp_lambda, self.drift, self.mixing_prob = gp_lambda, drift, mixing_prob
        self.ema_half_life_kimg, self.w_avg_beta = ema_half_life_kimg, w_avg_beta
        self.rng = random.Random(seed)

    def styles(self, n, res):
        """One w per layer, with style mixing (one crossover for the batch)."""
        z = torch.randn(n, self.cfg.z_dim, device=self.device)
        w = self.G.map(z)
        layers = self.G.layers_at(res)
        if layers > 1 and self.rng.random() < self.mixing_prob:
            w2 = self.G.map(torch.randn(n, self.cfg.z_dim, device=self.device))
            cross = self.rng.randint(1, layers - 1)
            styles = [w if i < cross else w2 for i in range(layers)]
        else:
            styles = [w] * layers
        return styles, w

    def d_loss(self, reals, fake, res):
        """WGAN-GP with drift, averaged over the batch."""
        n = reals.shape[0]
        d_real = self.D(reals, res)
        d_fake = self.D(fake, res)
        u = torch.rand(n, 1, 1, 1, device=reals.device)
        mix = (reals + u * (fake - reals)).detach().requires_grad_(True)
        d_mix = self.D(mix, res)
        (g,) = torch.autograd.grad(d_mix.sum(), mix, create_graph=True)
        norm = torch.sqrt(g.square().sum(dim=(1, 2, 3)) + 1e-12)
        gp = (norm - 1.0).square()
        per_sample = d_fake - d_real + self.drift * d_real.square() + self.gp_lambda * gp.view(n, 1)
        return per_sample.mean(), gp.mean()

    def step(self, reals, res):
        n = reals.shape[0]
        # D step: fakes from G without a graph.
        with torch.no_grad():
            s, _ = self.styles(n, res)
            fake = self.G.synthesis(s, res)
        d_loss, _ = self.d_loss(reals, fake, res)
        self.opt_d.zero_grad(set_to_none=False)
        d_loss.backward()
        self.opt_d.step()
        # G step: D frozen.
        self.D.requires_grad_(False)
        s, w = self.styles(n, res)
        fake = self.G.synthesis(s, res)
        g_loss = -self.D(fake, res).mean()
        self.opt_g.zero_grad(set_to_none=False)
        g_loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        # G_ema and the running average of w.
        with torch.no_grad():
            beta = 0.5 ** (n / max(self.ema_half_life_kimg * 1000.0, 1e-9))
            if hasattr(torch, "_foreach_lerp_"):
                torch._foreach_lerp_(self.ema_params, self.g_params, 1.0 - beta)
            else:  # older torch
                for e, p in zip(self.ema_params, self.g_params):
                    e.lerp_(p, 1.0 - beta)
            self.w_avg = torch.lerp(w.detach().mean(dim=0, keepdim=True), self.w_avg, self.w_avg_beta)
        return d_loss.detach(), g_loss.detach()


# ----------------------------------------------------------------------------------------
# StyleGAN2 (--arch stylegan2): the model of tests/stylegan2_step_parity.py, shared in
# tools/stylegan2_torch.py, stepped as `Trainer::step` with --arch stylegan2 steps it
# ----------------------------------------------------------------------------------------

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stylegan2_torch as sg2  # noqa: E402
import ada_torch  # noqa: E402  (ADA's "bgc" pipeline on our Philox draws: --check, --check-augment)

# R1 every 16 steps, path length every 4 (official; src/train/reg_config.rs LazyReg).
LAZY_INTERVALS = (16, 4)


def lazy_kinds(r1, pl):
    """The kinds of step one period of the intervals runs, as bench::stylegan2_step's
    step_kinds: (runs R1, runs path length, first step of the kind, share of the steps)."""
    period = min(r1 // math.gcd(r1, pl) * pl, 4096)
    kinds = []
    for s in range(period):
        key = (s % r1 == 0, s % pl == 0)
        for k in kinds:
            if (k[0], k[1]) == key:
                k[3] += 1
                break
        else:
            kinds.append([key[0], key[1], s, 1])
    return [(a, b, s, c / period) for a, b, s, c in kinds]


def lazy_label(r1, pl):
    return {(True, True): "R1+PL", (True, False): "R1", (False, True): "PL"}.get((r1, pl), "plain")


class Trainer2:
    """A StyleGAN2 step in our order: D main (logistic), R1 when due, G main, path length
    when due (each its own Adam step, lr * c and betas ** c, loss times the interval), the
    EMA of G and the w average. The model is built at `res` (no growing), fp32, with the
    official training path's modulated convs (not fused)."""

    def __init__(self, cfg: Cfg, res, batch, device, seed=1, mixing_prob=0.9, lr=0.002,
                 pl_weight=2.0, pl_decay=0.01, pl_batch_shrink=2, ema_half_life_kimg=10.0, w_avg_beta=0.995):
        torch.manual_seed(seed)
        self.cfg, self.res, self.device = cfg, res, device
        g, d = sg2.param_shapes(res, cfg.z_dim, cfg.w_dim, cfg.mapping_layers, cfg.fmap_base, cfg.fmap_max,
                                cfg.channels)
        self.P = {}
        for name, shape, init in g + d:
            t = {"randn": torch.randn, "zeros": torch.zeros, "ones": torch.ones}[init](shape)
            if name.startswith("g.mapping.") and name.endswith(".weight"):
                t = t / cfg.mapping_lr_mul
            self.P[name] = t.to(device).requires_grad_(True)
        self.g_params = [self.P[n] for n, _, _ in g]
        self.d_params = [self.P[n] for n, _, _ in d]
        self.ema_params = [p.detach().clone() for p in self.g_params]
        r1, pl = LAZY_INTERVALS
        cd, cg = r1 / (r1 + 1), pl / (pl + 1)
        self.opt_d, self.adam_impl = make_adam(self.d_params, lr * cd, (0.0, 0.99 ** cd))
        self.opt_g, _ = make_adam(self.g_params, lr * cg, (0.0, 0.99 ** cg))
        self.gamma = 0.0002 * res * res / batch  # train --arch stylegan2's default
        self.pl_weight, self.pl_decay, self.pl_batch_shrink = pl_weight, pl_decay, pl_batch_shrink
        self.pl_mean = torch.zeros([], device=device)
        self.w_avg = torch.zeros(1, cfg.w_dim, device=device)
        self.mixing_prob, self.ema_half_life_kimg, self.w_avg_beta = mixing_prob, ema_half_life_kimg, w_avg_beta
        self.rng = random.Random(seed)
        self.step_n = 0
        self.use()

    def use(self):
        sg2.configure(self.P, self.res, self.cfg.mapping_lr_mul, self.cfg.mbstd_group, torch.float32,
                      self.device, fused=False)

    def draw(self, n):
        """Latents, the mixing cutoff (num_ws: none) and one noise map per conv layer."""
        z = torch.randn(n, self.cfg.z_dim, device=self.device)
        z2 = torch.randn(n, self.cfg.z_dim, device=self.device)
        cut = self.rng.randint(1, sg2.NUM_WS - 1) if self.rng.random() < self.mixing_prob else sg2.NUM_WS
        noises = [torch.randn(n, 1, 4 << ((j + 1) // 2), 4 << ((j + 1) // 2), device=self.device)
                  for j in range(sg2.NUM_CONV)]
        return z, z2, cut, noises

    @staticmethod
    def apply(opt, params, loss):
        for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True)):
            p.grad = torch.zeros_like(p) if g is None else g
        opt.step()

    def r1_penalty(self, reals):
        x = reals.detach().requires_grad_(True)
        logits = sg2.run_D(x)
        (g,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        return logits, g.square().sum([1, 2, 3])

    def path_lengths(self, n):
        img, ws = sg2.run_G(*self.draw(n))
        noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
        (g,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
        return img, g.square().sum(2).mean(1).sqrt()

    def step(self, reals):
        self.use()
        n, s = reals.shape[0], self.step_n
        r1, pl = LAZY_INTERVALS
        with torch.no_grad():
            fake, _ = sg2.run_G(*self.draw(n))
        d_loss = F.softplus(sg2.run_D(fake)).mean() + F.softplus(-sg2.run_D(reals)).mean()
        self.apply(self.opt_d, self.d_params, d_loss)
        if s % r1 == 0:
            logits, pen = self.r1_penalty(reals)
            self.apply(self.opt_d, self.d_params, (logits * 0 + pen * (self.gamma / 2)).mean() * r1)
        fake, ws = sg2.run_G(*self.draw(n))
        w_mean = ws[:, 0].detach().mean(dim=0, keepdim=True)
        g_loss = F.softplus(-sg2.run_D(fake)).mean()
        self.apply(self.opt_g, self.g_params, g_loss)
        if s % pl == 0:
            img, lengths = self.path_lengths(max(n // self.pl_batch_shrink, 1))
            mean = self.pl_mean.lerp(lengths.mean(), self.pl_decay)
            self.pl_mean = mean.detach()
            loss = (img[:, 0, 0, 0] * 0 + (lengths - mean).square() * self.pl_weight).mean() * pl
            self.apply(self.opt_g, self.g_params, loss)
        with torch.no_grad():
            beta = 0.5 ** (n / max(self.ema_half_life_kimg * 1000.0, 1e-9))
            for e, p in zip(self.ema_params, self.g_params):
                e.lerp_(p, 1.0 - beta)
            self.w_avg = torch.lerp(w_mean, self.w_avg, self.w_avg_beta)
        self.step_n = s + 1
        return d_loss.detach(), g_loss.detach()


def bench_steps2(args, cfg, device):
    """Each resolution's StyleGAN2 step: every kind of step (which lazy regularisers run)
    timed on its own, the row's times the kinds' medians weighted by their share, as
    `bench --arch stylegan2` does."""
    out, adam_impl = [], None
    r1, pl = LAZY_INTERVALS
    for res in args.resolutions:
        n = args.batch.get(res, 4)
        try:
            tr = Trainer2(cfg, res, n, device, seed=args.seed)
            adam_impl = tr.adam_impl
            reals = torch.rand(n, cfg.channels, res, res, device=device) * 2.0 - 1.0
            sync(device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            kinds, med, lo, hi, losses = [], 0.0, 0.0, 0.0, None

            for a, b, at, w in lazy_kinds(r1, pl):
                def one():
                    nonlocal losses
                    tr.step_n = at
                    losses = tr.step(reals)
                m, (p10, p90) = summarize(time_fn(one, device, args.step_warmup, args.step_repeats))
                kinds.append({"r1": a, "pl": b, "step": at, "weight": w, "median_ms": m})
                med, lo, hi = med + w * m, lo + w * p10, hi + w * p90
        except (RuntimeError, torch.cuda.OutOfMemoryError) as e:  # pragma: no cover
            print(f"  stylegan2 train step {res}x{res} batch {n}: skipped ({str(e).splitlines()[0]})",
                  file=sys.stderr)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        row = {"res": res, "batch": n, "median_ms": med, "spread_ms": [lo, hi],
               "images_per_s": n / (med * 1e-3), "families": {}, "arch": "stylegan2",
               "lazy": {"method": "weighted", "r1_interval": r1, "pl_interval": pl, "kinds": kinds},
               "d_loss": float(losses[0]), "g_loss": float(losses[1])}
        if device.type == "cuda":
            row["peak_mem_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        out.append(row)
        print(f"  stylegan2 train step {res}x{res} batch {n}: {med:.2f} ms ("
              + ", ".join(f"{lazy_label(k['r1'], k['pl'])} {k['median_ms']:.2f} ms x {k['weight']:.4f}" for k in kinds)
              + ")", file=sys.stderr)
        del tr, reals
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return out, adam_impl


def run_checks2(args, cfg, device):
    """--check --arch stylegan2: shapes through G and D at each resolution, R1 and the path
    length finite, the fused and the training modulated conv equal, one step of each kind
    finite and moving G, D and G_ema."""
    passed, failed = 0, 0

    def ok(cond, what):
        nonlocal passed, failed
        if cond:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {what}")

    n = 4
    for res in args.resolutions:
        tr = Trainer2(cfg, res, n, device, seed=args.seed)
        n_g = sum(p.numel() for p in tr.g_params)
        n_d = sum(p.numel() for p in tr.d_params)
        ok(sg2.NUM_WS == 2 * (int(math.log2(res)) - 1), f"{res}: num_ws")
        with torch.no_grad():
            z, z2, cut, noises = tr.draw(n)
            img, ws = sg2.run_G(z, z2, cut, noises)
            ok(tuple(img.shape) == (n, cfg.channels, res, res), f"{res}: G output shape {tuple(img.shape)}")
            ok(tuple(ws.shape) == (n, sg2.NUM_WS, cfg.w_dim), f"{res}: ws shape")
            ok(bool(torch.isfinite(img).all()), f"{res}: G output finite")
            scores = sg2.run_D(img)
            ok(tuple(scores.shape) == (n, 1) and bool(torch.isfinite(scores).all()), f"{res}: D scores [n, 1]")
            sg2.FUSED = True
            fused = sg2.run_G(z, z2, cut, noises)[0]
            sg2.FUSED = False
            ok((fused - img).abs().max().item() <= 1e-4 * max(1.0, img.abs().max().item()),
               f"{res}: fused and training modulated convs agree")
        reals = torch.rand(n, cfg.channels, res, res, device=device) * 2 - 1
        _, r1 = tr.r1_penalty(reals)
        ok(tuple(r1.shape) == (n,) and bool(torch.isfinite(r1).all()) and r1.sum().item() > 0,
           f"{res}: R1 finite and positive")
        _, lengths = tr.path_lengths(n // 2)
        ok(tuple(lengths.shape) == (n // 2,) and bool(torch.isfinite(lengths).all()) and lengths.min().item() > 0,
           f"{res}: path lengths finite and positive")
        for a, b, at, _ in lazy_kinds(*LAZY_INTERVALS):
            before = [[p.detach().clone() for p in ps] for ps in (tr.g_params, tr.d_params, tr.ema_params)]
            tr.step_n = at
            d_loss, g_loss = tr.step(reals)
            ok(bool(torch.isfinite(d_loss)) and bool(torch.isfinite(g_loss)), f"{res}: {lazy_label(a, b)} step finite")
            ok(all(any(not torch.equal(x, y) for x, y in zip(bp, ps))
                   for bp, ps in zip(before, (tr.g_params, tr.d_params, tr.ema_params))),
               f"{res}: {lazy_label(a, b)} step moves G, D and G_ema")
        ok(all(bool(torch.isfinite(p).all()) for p in tr.g_params + tr.d_params), f"{res}: parameters finite")
        ok(tr.pl_mean.item() > 0, f"{res}: path length mean moved")
        print(f"check stylegan2 {res}x{res}: G {n_g:,} parameters, D {n_d:,}; image {tuple(img.shape)}, "
              f"R1 {r1.mean().item():.4g}, path length {lengths.mean().item():.4g}")
    print(f"check: {passed} passed, {failed} failed")
    return failed == 0



# ----------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_fn(fn, device, warmup, repeats):
    """Per-repeat milliseconds: CUDA events on the GPU, perf_counter on the CPU."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def percentile(xs, q):
    s = sorted(xs)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(times):
    return percentile(times, 0.5), [percentile(times, 0.1), percentile(times, 0.9)]


# ----------------------------------------------------------------------------------------
# Op benchmarks
# ----------------------------------------------------------------------------------------

CONV_OPS = ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight")
PLANE_OPS = ("adain_forward", "adain_backward", "noise_bias_act", "upsample2x", "downsample2x", "blur")


def conv_shape(N, C, K, H, W, k):
    return f"N={N} C={C} K={K} H={H} W={W} k={k}"


def plane_shape(N, C, H, W):
    return f"N={N} C={C} H={H} W={W}"


def op_list(quick, adam_params):
    """(name, shape string, dims) rows, in the engine's vocabulary."""
    if quick:
        convs = [(2, 17, 16, 16, 16, 3), (1, 3, 8, 8, 8, 1)]
        planes = [(2, 17, 16, 16)]
        mats = [64]
        pn = (8, 64)
        mb = (8, 16, 4, 4)
        params = adam_params or 100_000
    else:
        convs = [(16, 256, 256, 32, 32, 3), (8, 64, 64, 128, 128, 3), (32, 512, 512, 8, 8, 3), (16, 64, 3, 64, 64, 1)]
        planes = [(16, 256, 32, 32), (8, 64, 128, 128)]
        mats = [1024, 4096]
        pn = (128, 512)
        mb = (16, 512, 4, 4)
        params = adam_params or 26_000_000
    rows = []
    for d in convs:
        for name in CONV_OPS:
            rows.append((name, conv_shape(*d), d))
    for m in mats:
        rows.append(("matmul", f"M={m} N={m} K={m}", (m, m, m)))
    for d in planes:
        for name in PLANE_OPS:
            rows.append((name, plane_shape(*d), d))
    rows.append(("pixel_norm", f"N={pn[0]} C={pn[1]}", pn))
    rows.append(("minibatch_stddev", plane_shape(*mb), mb))
    rows.append(("adam", f"params={params}", (params,)))
    rows.append(("ema", f"params={params}", (params,)))
    return rows


def make_op(name, d, device):
    """(fn, flops, bytes) for one row; flops = 2 * MACs for conv/matmul, 0 for the rest;
    bytes = inputs read once + outputs written once, f32."""
    f4 = 4
    rn = lambda *s: torch.randn(*s, device=device)  # noqa: E731
    if name in CONV_OPS:
        N, C, K, H, W, k = d
        pad = k // 2
        x, w, go = rn(N, C, H, W), rn(K, C, k, k) * (SQRT2 / math.sqrt(C * k * k)), rn(N, K, H, W)
        flops = 2.0 * N * K * H * W * C * k * k
        if name == "conv2d_forward":
            return (lambda: F.conv2d(x, w, padding=pad)), flops, f4 * (x.numel() + w.numel() + go.numel())
        if name == "conv2d_backward_data":
            return (lambda: torch.nn.grad.conv2d_input(x.shape, w, go, padding=pad)), flops, \
                f4 * (go.numel() + w.numel() + x.numel())
        return (lambda: torch.nn.grad.conv2d_weight(x, w.shape, go, padding=pad)), flops, \
            f4 * (x.numel() + go.numel() + w.numel())
    if name == "matmul":
        M, N, K = d
        a, b = rn(M, K), rn(K, N)
        return (lambda: torch.mm(a, b)), 2.0 * M * N * K, f4 * (M * K + K * N + M * N)
    if name in PLANE_OPS:
        N, C, H, W = d
        e = N * C * H * W
        x = rn(N, C, H, W)
        if name == "adain_forward":
            ys, yb = rn(N, C) * 0.1, rn(N, C)
            return (lambda: adain(x, ys, yb)), 0.0, f4 * (2 * e + 2 * N * C)
        if name == "adain_backward":
            xg = x.clone().requires_grad_(True)
            ys, yb = (rn(N, C) * 0.1).requires_grad_(True), rn(N, C).requires_grad_(True)
            with torch.enable_grad():
                y = adain(xg, ys, yb)
            g = torch.randn_like(y)
            return (lambda: torch.autograd.grad(y, (xg, ys, yb), g, retain_graph=True)), 0.0, \
                f4 * (3 * e + 3 * N * C)
        if name == "noise_bias_act":
            noise, wt, b = rn(N, 1, H, W), rn(C), rn(C)
            return (lambda: noise_bias_act(x, noise, wt, b)), 0.0, f4 * (2 * e + N * H * W + 2 * C)
        if name == "upsample2x":
            return (lambda: upsample2x(x)), 0.0, f4 * 5 * e
        if name == "downsample2x":
            return (lambda: downsample2x(x)), 0.0, f4 * (e + e // 4)
        return (lambda: blur(x)), 0.0, f4 * 2 * e
    if name == "pixel_norm":
        N, C = d
        x = rn(N, C)
        return (lambda: pixel_norm(x)), 0.0, f4 * 2 * N * C
    if name == "minibatch_stddev":
        N, C, H, W = d
        x = rn(N, C, H, W)
        return (lambda: minibatch_stddev(x, 4)), 0.0, f4 * (N * C * H * W + N * (C + 1) * H * W)
    if name == "adam":
        (P,) = d
        p = nn.Parameter(torch.randn(P, device=device))
        p.grad = torch.randn(P, device=device)
        opt, _ = make_adam([p])
        return opt.step, 0.0, f4 * 7 * P  # read p, g, m, v; write p, m, v
    if name == "ema":
        (P,) = d
        ema, p = rn(P), rn(P)
        return (lambda: ema.lerp_(p, 1.0 - 0.5 ** (32 / 10000))), 0.0, f4 * 3 * P
    raise ValueError(name)


def copy_ceiling(device, quick, warmup, repeats):
    n = (4 << 20) if quick else ((64 << 20) if device.type == "cuda" else (16 << 20))
    x = torch.randn(n, device=device)
    y = torch.empty_like(x)
    med, _ = summarize(time_fn(lambda: y.copy_(x), device, warmup, repeats))
    return 2 * 4 * n / (med * 1e-3) / 1e9


def bench_ops(args, device):
    rows = []
    todo = op_list(args.quick, args.adam_params)
    if args.filter:
        todo = [r for r in todo if args.filter in r[0]]
    for name, shape, d in todo:
        try:
            with torch.no_grad() if name != "adain_backward" else torch.enable_grad():
                fn, flops, nbytes = make_op(name, d, device)
                times = time_fn(fn, device, args.warmup, args.repeats)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as e:  # pragma: no cover
            print(f"  {name} {shape}: skipped ({str(e).splitlines()[0]})", file=sys.stderr)
            continue
        finally:
            fn = None
            if device.type == "cuda":
                torch.cuda.empty_cache()
        med, spread = summarize(times)
        rows.append({
            "name": name, "shape": shape, "median_ms": med, "spread_ms": spread,
            "gflops": flops / (med * 1e-3) / 1e9 if flops else 0.0,
            "gbs": nbytes / (med * 1e-3) / 1e9, "flops": flops, "bytes": nbytes,
        })
        print(f"  {name:<24} {shape:<36} {med:10.4f} ms", file=sys.stderr)
    return rows


# ----------------------------------------------------------------------------------------
# Train-step benchmark
# ----------------------------------------------------------------------------------------


def bench_steps(args, cfg, device):
    trainer = Trainer(cfg, device, seed=args.seed)
    out = []
    for res in args.resolutions:
        n = args.batch.get(res, 4)
        reals = torch.rand(n, cfg.channels, res, res, device=device) * 2.0 - 1.0
        try:
            for _ in range(args.step_warmup):
                trainer.step(reals, res)
            sync(device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            times = []
            for _ in range(args.step_repeats):
                sync(device)
                t0 = time.perf_counter()
                d_loss, g_loss = trainer.step(reals, res)
                sync(device)
                times.append((time.perf_counter() - t0) * 1e3)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as e:  # pragma: no cover
            print(f"  train step {res}x{res} batch {n}: skipped ({str(e).splitlines()[0]})", file=sys.stderr)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        med, spread = summarize(times)
        row = {"res": res, "batch": n, "median_ms": med, "spread_ms": spread,
               "images_per_s": n / (med * 1e-3), "families": {},
               "d_loss": float(d_loss), "g_loss": float(g_loss)}
        if device.type == "cuda":
            row["peak_mem_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        out.append(row)
        print(f"  train step {res}x{res} batch {n}: {med:.2f} ms", file=sys.stderr)
        del reals
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return out, trainer.adam_impl


# ----------------------------------------------------------------------------------------
# The engine's JSON and the tables
# ----------------------------------------------------------------------------------------


def shape_key(s):
    """Order-, spacing- and underscore-insensitive key of a 'K=V K=V' shape string."""
    toks = [t for t in re.split(r"[\s,;]+", str(s).strip()) if "=" in t]
    if not toks:
        return str(s).strip()
    return tuple(sorted((k.strip(), v.strip().replace("_", "")) for k, v in (t.split("=", 1) for t in toks)))


def num(x):
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def load_ours(path):
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict):
        data = {}
    kernels, steps = {}, {}
    for k in data.get("kernels") or []:
        if isinstance(k, dict) and k.get("name") is not None and num(k.get("median_ms")):
            kernels[(str(k["name"]), shape_key(k.get("shape", "")))] = k
    for s in data.get("train_step") or []:
        if not isinstance(s, dict) or num(s.get("res")) is None:
            continue
        ips = num(s.get("images_per_s"))
        if ips is None and num(s.get("median_ms")) and num(s.get("batch")):
            ips = s["batch"] / (s["median_ms"] * 1e-3)
        if ips:
            # Rows written before `arch` existed are StyleGAN 1's.
            steps[(str(s.get("arch") or "stylegan1"), int(s["res"]))] = dict(s, images_per_s=ips)
    return data, kernels, steps


def step_key(row):
    """A train-step row's match key: (arch, resolution)."""
    return (str(row.get("arch") or "stylegan1"), int(row["res"]))


def fmt(x, width, prec):
    return f"{x:>{width}.{prec}f}" if x is not None else f"{'-':>{width}}"


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def print_tables(kernels, steps, ours):
    have = ours is not None
    _, ok, os_ = ours if have else ({}, {}, {})
    if kernels:
        print()
        hdr = f"{'op':<24} {'shape':<36} {'median ms':>10} {'p10..p90 ms':>21} {'GFLOP/s':>9} {'GB/s':>8}"
        if have:
            hdr += f" {'ours ms':>10} {'torch/ours':>10}"
        print(hdr)
        print("-" * len(hdr))
        ratios = []
        for r in kernels:
            line = (f"{r['name']:<24} {r['shape']:<36} {r['median_ms']:>10.4f} "
                    f"{r['spread_ms'][0]:>10.4f}..{r['spread_ms'][1]:<9.4f} "
                    f"{fmt(r['gflops'] or None, 9, 1)} {r['gbs']:>8.1f}")
            if have:
                o = ok.get((r["name"], shape_key(r["shape"])))
                oms = num(o.get("median_ms")) if o else None
                ratio = r["median_ms"] / oms if oms else None
                if ratio:
                    ratios.append(ratio)
                line += f" {fmt(oms, 10, 4)} {fmt(ratio, 10, 2)}"
            print(line)
        if have:
            g = geomean(ratios)
            print(f"ops matched: {len(ratios)}/{len(kernels)}; geometric mean torch/ours "
                  f"{g:.3f} (>1: ours faster)" if g else "ops matched: 0 (no row of --ours has the same name and shape)")
    if steps:
        print()
        if any(s.get("arch") == "stylegan2" for s in steps):
            r1, pl = LAZY_INTERVALS
            print(f"StyleGAN2 train step: each kind of step (R1 + path length, path length alone, neither) timed "
                  f"on its own, weighted by its share with R1 every {r1} and path length every {pl} steps")
        hdr = f"{'res':>5} {'batch':>6} {'ms/step':>10} {'p10..p90 ms':>21} {'images/s':>10}"
        if have:
            hdr += f" {'ours img/s':>11} {'ours/torch':>10}"
        print(hdr)
        print("-" * len(hdr))
        ratios = []
        for s in steps:
            line = (f"{s['res']:>5} {s['batch']:>6} {s['median_ms']:>10.2f} "
                    f"{s['spread_ms'][0]:>10.2f}..{s['spread_ms'][1]:<9.2f} {s['images_per_s']:>10.1f}")
            if have:
                o = os_.get(step_key(s))
                oips = o["images_per_s"] if o else None
                ratio = oips / s["images_per_s"] if oips else None
                if ratio:
                    ratios.append(ratio)
                note = ""
                if o and num(o.get("batch")) and int(o["batch"]) != s["batch"]:
                    note = f"  (ours batch {int(o['batch'])})"
                line += f" {fmt(oips, 11, 1)} {fmt(ratio, 10, 2)}{note}"
            print(line)
        if have:
            g = geomean(ratios)
            print(f"steps matched: {len(ratios)}/{len(steps)}; geometric mean ours/torch images/s "
                  f"{g:.3f} (>1: ours faster)" if g else "steps matched: 0")
        print_memory(steps, os_ if have else {})


def memory_ratio(torch_mb, ours_mib):
    """Our step's pool peak over PyTorch's max_memory_allocated (the target: <= 1.25)."""
    if not (num(torch_mb) and num(ours_mib)) or torch_mb <= 0:
        return None
    return ours_mib / torch_mb


def print_memory(steps, ours):
    """Peak memory of one training step where CUDA measured it, with ours beside it."""
    rows = [s for s in steps if num(s.get("peak_mem_mb"))]
    if not rows:
        return
    print()
    hdr = f"{'res':>5} {'batch':>6} {'torch peak MiB':>15} {'ours peak MiB':>14} {'ours/torch':>11}"
    print(hdr)
    print("-" * len(hdr))
    for s in rows:
        o = ours.get(step_key(s)) or {}
        ratio = memory_ratio(s["peak_mem_mb"], o.get("peak_mib"))
        print(f"{s['res']:>5} {s['batch']:>6} {s['peak_mem_mb']:>15.1f} {fmt(o.get('peak_mib'), 14, 1)} "
              f"{fmt(ratio, 11, 2)}")
    print("(torch: torch.cuda.max_memory_allocated over the timed steps; ours: the buffer pool's "
          "peak of one step, idle pooled buffers included; target ours/torch <= 1.25)")


def device_info(device):
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        return {"name": p.name, "backend": f"cuda {torch.version.cuda}", "software": False,
                "memory_gb": round(p.total_memory / 2**30, 1),
                "cudnn": torch.backends.cudnn.version()}
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"name": name, "backend": "cpu", "software": False, "threads": torch.get_num_threads()}


# ----------------------------------------------------------------------------------------
# --check
# ----------------------------------------------------------------------------------------


def run_checks(args, cfg, device):
    passed, failed = 0, 0

    def ok(cond, what):
        nonlocal passed, failed
        if cond:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {what}")

    torch.manual_seed(args.seed)
    tr = Trainer(cfg, device, seed=args.seed)
    G, D = tr.G, tr.D
    n_g = sum(p.numel() for p in G.parameters())
    n_d = sum(p.numel() for p in D.parameters())
    print(f"check: G {n_g:,} parameters, D {n_d:,} parameters (max_res {cfg.max_res})")

    # Ops against their definitions.
    x = torch.randn(3, 5, 6, 6, device=device) * 3 + 1
    ys, yb = torch.randn(3, 5, device=device), torch.randn(3, 5, device=device)
    ok((adain(x, ys, yb) - adain_reference(x, ys, yb)).abs().max().item() < 1e-4, "adain == formula")
    z = torch.randn(7, 9, device=device)
    ok(((pixel_norm(z).square().mean(1) - 1).abs().max().item()) < 1e-4, "pixel_norm: unit mean square")
    xb = torch.randn(8, 3, 4, 4, device=device)
    got = minibatch_stddev(xb, 4)
    g_, m_ = 4, 2
    ref = torch.empty(8, device=device)
    for m in range(m_):
        grp = torch.stack([xb[g * m_ + m] for g in range(g_)])
        stat = torch.sqrt(((grp - grp.mean(0)) ** 2).mean(0) + EPS).mean()
        for g in range(g_):
            ref[g * m_ + m] = stat
    ok(got.shape == (8, 4, 4, 4), "minibatch_stddev shape")
    ok((got[:, 3] - ref.view(8, 1, 1)).abs().max().item() < 1e-5, "minibatch_stddev == official (n = g*M + m)")
    ok(mbstd_group(4, 6) == 3 and mbstd_group(4, 2) == 2 and mbstd_group(4, 128) == 4, "mbstd group")
    ok(abs(blur(torch.ones(1, 2, 5, 5, device=device))[0, 0, 2, 2].item() - 1.0) < 1e-6, "blur sums to 1")
    ok(upsample2x(x).shape == (3, 5, 12, 12) and downsample2x(x).shape == (3, 5, 3, 3), "resample shapes")
    ok(abs(G.mapping[0].w_scale - SQRT2 / math.sqrt(cfg.z_dim) * 0.01) < 1e-12, "mapping weight scale")
    ok(abs(G.mapping[0].weight.std().item() - 100.0) < 5.0, "mapping weight std 1/lr_mul")
    ok(torch.all(G.const == 1).item() and all(torch.all(l.noise_weight == 0).item() for l in G.layers),
       "const ones, noise weights zero")
    # The engine's parameter layout: every G parameter has an engine name (for --load), the
    # synthesis convs have no bias, D's first dense layer has nf(2) outputs (official nf(0)).
    ok(sorted(g_param_names(cfg).values()) == sorted(G.state_dict().keys()), "G names map onto the engine's")
    ok(all(l.conv is None or l.conv.bias is None for l in G.layers), "synthesis convs have no bias")
    ok(tuple(D.dense0.weight.shape) == (cfg.nf(2), cfg.nf(4) * 16) and tuple(D.dense1.weight.shape) == (1, cfg.nf(2)),
       "D dense0 [nf(2), nf(4) * 16], dense1 [1, nf(2)]")
    # Fade-in: alpha 0 is the previous resolution upsampled, alpha 1 the new one.
    if len(cfg.resolutions()) > 1:
        with torch.no_grad():
            zeros = lambda i, b, h, w: torch.zeros(b, 1, h, w, device=device)  # noqa: E731
            s8 = [G.map(torch.randn(2, cfg.z_dim, device=device))] * len(G.layers)
            full = G.synthesis(s8, 8, noise=zeros)
            lo = upsample2x(G.synthesis(s8, 4, noise=zeros))
            ok((G.synthesis(s8, 8, alpha=0.0, noise=zeros) - lo).abs().max().item() < 1e-5, "fade alpha 0")
            ok((G.synthesis(s8, 8, alpha=1.0, noise=zeros) - full).abs().max().item() == 0, "fade alpha 1")
            mid = G.synthesis(s8, 8, alpha=0.25, noise=zeros)
            ok((mid - (lo + (full - lo) * 0.25)).abs().max().item() < 1e-5, "fade alpha 0.25")
    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:  # Random123's known answers, as src/cpu/random.rs tests them
        kat = [((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
               ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
               ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
                (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))]
        for c, k, want in kat:
            got = philox4x32_10(tuple(np.array([v], np.uint64) for v in c), k)
            ok(tuple(int(x[0]) for x in got) == want, f"philox known answer {want[0]:#x}")

    # Shapes through G and D at every resolution, and the losses.
    n = min(4, max(2, args.batch.get(args.resolutions[0], 4)))
    for res in args.resolutions:
        trace = []
        with torch.no_grad():
            s, w = tr.styles(n, res)
            ok(w.shape == (n, cfg.w_dim) and len(s) == G.layers_at(res) == 2 * (int(math.log2(res)) - 1),
               f"{res}: styles")
            img = G.synthesis(s, res, trace=trace)
        reals = torch.rand(n, cfg.channels, res, res, device=device) * 2 - 1
        D(reals, res, trace=trace)
        for what, got_s, want in trace:
            ok(got_s == want, f"{res}: {what} shape {got_s} != {want}")
        ok(bool(torch.isfinite(img).all()), f"{res}: G output finite")
        d_loss, gp = tr.d_loss(reals, img, res)
        ok(bool(torch.isfinite(d_loss)) and bool(torch.isfinite(gp)), f"{res}: D loss and GP finite")
        grads = torch.autograd.grad(d_loss, tr.d_params, allow_unused=True)
        used = [g for g in grads if g is not None]
        ok(len(used) > 0 and all(bool(torch.isfinite(g).all()) for g in used), f"{res}: D grads finite")
        ok(sum(g.abs().sum().item() for g in used) > 0, f"{res}: D grads non-zero")
        print(f"check {res}x{res}: image {tuple(img.shape)}, D loss {d_loss.item():.4g}, GP {gp.item():.4g}")

    # One full training step moves G, D and G_ema and stays finite.
    res = args.resolutions[-1]
    before_g = [p.detach().clone() for p in tr.g_params]
    before_d = [p.detach().clone() for p in tr.d_params]
    before_e = [p.detach().clone() for p in tr.ema_params]
    reals = torch.rand(n, cfg.channels, res, res, device=device) * 2 - 1
    d_loss, g_loss = tr.step(reals, res)
    ok(bool(torch.isfinite(d_loss)) and bool(torch.isfinite(g_loss)), "train step losses finite")
    moved = lambda a, b: any(not torch.equal(x, y) for x, y in zip(a, b))  # noqa: E731
    ok(moved(before_g, tr.g_params) and moved(before_d, tr.d_params) and moved(before_e, tr.ema_params),
       "train step updates G, D and G_ema")
    ok(all(bool(torch.isfinite(p).all()) for p in tr.g_params + tr.d_params), "parameters finite")
    ada_torch.self_check(ok)  # ADA: p = 0 exact identity, integer shifts exact, outputs finite
    print(f"check: {passed} passed, {failed} failed")
    return failed == 0


# ----------------------------------------------------------------------------------------
# --load: pictures from an engine checkpoint (src/train/checkpoint.rs, src/train/generate.rs)
# ----------------------------------------------------------------------------------------

# v2 dropped the generator's unused synthesis conv biases, which v1 files still hold.
CKPT_FORMATS = ("sgw-stylegan1-v1", "sgw-stylegan1-v2")
CKPT_FILE = "checkpoint.safetensors"
# Generator conv biases that the engine once had but never used (v1 checkpoints hold them).
IGNORED_G_TENSORS = re.compile(r"^g\.synthesis\.\d+x\d+\.\d+\.conv\.bias$")


def need_numpy():
    try:
        import numpy
    except ImportError:  # pragma: no cover - depends on the machine
        sys.exit("--load needs NumPy: `pip install numpy`")
    return numpy


def read_checkpoint(path):
    """(tensors {name: float32 ndarray}, metadata {str: str}) of a safetensors file, parsed by
    hand: 8-byte little-endian header length, the JSON header (with `__metadata__`), data."""
    np = need_numpy()
    if os.path.isdir(path):
        path = os.path.join(path, CKPT_FILE)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        sys.exit(f"checkpoint {path}: {e}")
    bad = lambda why: sys.exit(f"checkpoint {path}: not a valid safetensors file ({why})")  # noqa: E731
    if len(data) < 8:
        bad("shorter than 8 bytes")
    n = int.from_bytes(data[:8], "little")
    if 8 + n > len(data):
        bad("truncated header")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        bad(f"header is not JSON: {e}")
    meta = header.pop("__metadata__", None) or {}
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, info in header.items():
        if info.get("dtype") != "F32":
            sys.exit(f"checkpoint {path}: tensor {name} is {info.get('dtype')}, expected F32")
        s, e = info["data_offsets"]
        shape = tuple(info["shape"])
        if e > len(body) or e - s != 4 * math.prod(shape):
            bad(f"tensor {name} does not fit the file")
        tensors[name] = np.frombuffer(body[s:e], dtype="<f4").reshape(shape)
    if meta.get("format") not in CKPT_FORMATS:
        sys.exit(f"checkpoint {path}: format {meta.get('format')!r} is not one this script reads "
                 f"({', '.join(CKPT_FORMATS)})")
    return tensors, meta, path


def cfg_from_toml(text):
    """The run's configuration (the checkpoint's `config` metadata): (model Cfg, whole dict)."""
    import tomllib
    conf = tomllib.loads(text)
    m = conf["model"]
    keys = ("z_dim", "w_dim", "mapping_layers", "mapping_lr_mul", "fmap_base", "fmap_max", "channels",
            "start_res", "max_res", "mbstd_group")
    missing = [k for k in keys if k not in m]
    if missing:
        sys.exit(f"checkpoint config: [model] lacks {', '.join(missing)}")
    return Cfg(**{k: m[k] for k in keys}), conf


def schedule_point(cfg, kimg_per_phase, images, phase_images=()):
    """(res, alpha) after `images` images (src/train/schedule.rs): a stable phase at start_res,
    then per resolution a fade (alpha = images into the phase / phase length) and a stable phase,
    each round(kimg_per_phase * 1000) images long except the first ones listed in `phase_images`
    (lengths fixed when a resume changed kimg_per_phase). Once finished: the last resolution,
    alpha 1."""
    default = max(1, int(math.floor(kimg_per_phase * 1000.0 + 0.5)))  # f64::round, positive
    start = 0
    phases = []
    for r in cfg.resolutions():
        if r < cfg.start_res:
            continue
        for fade in ([False] if r == cfg.start_res else [True, False]):
            length = int(phase_images[len(phases)]) if len(phases) < len(phase_images) else default
            phases.append((r, fade, start, length))
            start += length
    for r, fade, st, length in phases:
        if images < st + length:
            return r, ((images - st) / length if fade else 1.0)
    return (phases[-1][0] if phases else 4), 1.0


def g_param_names(cfg):
    """The engine's G parameter names (src/nn/generator.rs) -> this Generator's state_dict keys.

    g.mapping.{i}.{weight,bias}                -> mapping.{i}.{weight,bias}
    g.synthesis.const                          -> const
    g.synthesis.{R}x{R}.{j}.conv.weight        -> layers.{2k+j}.conv.weight   (k: index of R)
    g.synthesis.{R}x{R}.{j}.{noise_weight,bias} -> layers.{2k+j}.{noise_weight,bias}
    g.synthesis.{R}x{R}.{j}.style.{weight,bias} -> layers.{2k+j}.style.{weight,bias}
    g.to_rgb.{R}x{R}.{weight,bias}             -> to_rgb.{k}.{weight,bias}
    """
    out = {}
    for i in range(cfg.mapping_layers):
        for p in ("weight", "bias"):
            out[f"g.mapping.{i}.{p}"] = f"mapping.{i}.{p}"
    out["g.synthesis.const"] = "const"
    for k, r in enumerate(cfg.resolutions()):
        for j in range(2):
            ours, theirs = f"g.synthesis.{r}x{r}.{j}", f"layers.{2 * k + j}"
            if not (r == 4 and j == 0):
                out[f"{ours}.conv.weight"] = f"{theirs}.conv.weight"
            for p in ("noise_weight", "bias", "style.weight", "style.bias"):
                out[f"{ours}.{p}"] = f"{theirs}.{p}"
        for p in ("weight", "bias"):
            out[f"g.to_rgb.{r}x{r}.{p}"] = f"to_rgb.{k}.{p}"
    return out


def load_generator(G, tensors, prefix="G_ema/"):
    """Fill G from the checkpoint's `prefix` tensors (stored unscaled, as these modules hold
    them). Fails naming every missing, unexpected or misshapen tensor."""
    names = g_param_names(G.cfg)
    ours = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    ignored = sorted(k for k in ours if k not in names and IGNORED_G_TENSORS.match(k))
    missing = sorted(k for k in names if k not in ours)
    unexpected = sorted(k for k in ours if k not in names and k not in ignored)
    sd = G.state_dict()
    shapes = [f"{prefix}{k} {tuple(ours[k].shape)}, the model expects {tuple(sd[t].shape)}"
              for k, t in names.items() if k in ours and tuple(ours[k].shape) != tuple(sd[t].shape)]
    if missing or unexpected or shapes:
        lines = [f"checkpoint does not fit the PyTorch generator built from its config:"]
        lines += [f"  missing tensor {prefix}{k}" for k in missing]
        lines += [f"  unexpected tensor {prefix}{k}" for k in unexpected]
        lines += [f"  shape of {s}" for s in shapes]
        sys.exit("\n".join(lines))
    G.load_state_dict({names[k]: torch.from_numpy(ours[k].copy()) for k in names}, strict=True)
    return ignored


def philox4x32_10(c, key):
    """Philox 4x32-10 (src/cpu/random.rs) on four uint64 arrays holding 32-bit words."""
    np = need_numpy()
    m32, sh = np.uint64(0xFFFFFFFF), np.uint64(32)
    c0, c1, c2, c3 = c
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
        p0, p1 = np.uint64(0xD2511F53) * c0, np.uint64(0xCD9E8D57) * c2
        c0, c1, c2, c3 = ((p1 >> sh) ^ c1 ^ np.uint64(k0), p1 & m32, (p0 >> sh) ^ c3 ^ np.uint64(k1), p0 & m32)
    return c0, c1, c2, c3


def philox_normal(shape, seed, offset):
    """The engine's `ops::rand_normal(shape, seed, offset, 0, 1)` (src/cpu/random.rs): element i
    from Philox 4x32-10 with counter (offset + i) mod 2^64 and key seed, then Box-Muller on the
    first two words (24 bits each) in f64, rounded to f32."""
    np = need_numpy()
    n = math.prod(shape)
    with np.errstate(over="ignore"):
        ctr = np.uint64(offset & (2**64 - 1)) + np.arange(n, dtype=np.uint64)  # wraps mod 2^64
    zero = np.zeros(n, np.uint64)
    c0, c1, _, _ = philox4x32_10((ctr & np.uint64(0xFFFFFFFF), ctr >> np.uint64(32), zero, zero),
                                 (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF))
    u1 = ((c0 >> np.uint64(8)).astype(np.float64) + 1.0) * (1.0 / 16777216.0)
    u2 = (c1 >> np.uint64(8)).astype(np.float64) * (1.0 / 16777216.0)
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)
    return z.astype(np.float32).reshape(shape)


def philox_noise_map(n, h, w, seed, step, layer):
    """The engine's `ops::noise_map`: rand_normal([n, 1, h, w], seed, ((step << 8) | layer) << 32)."""
    return philox_normal((n, 1, h, w), seed, (((step << 8) | layer) << 32) & (2**64 - 1))


def grid_png(images, cols, path, min_side=256):
    """The engine's sample grid (src/train/pictures.rs): tiles with 2-pixel gaps on grey 24,
    round((v + 1) * 127.5) clamped to 0..255, grey repeated to RGB, enlarged by a whole factor
    (nearest) to at least `min_side` wide; written as an 8-bit RGB PNG."""
    import struct
    import zlib
    np = need_numpy()
    n, c, r, _ = images.shape
    rows, gap = -(-n // cols), 2
    img = np.full(((r + gap) * rows + gap, (r + gap) * cols + gap, 3), 24, np.uint8)
    q = np.clip(np.floor((images.astype(np.float32) + 1.0) * 127.5 + 0.5), 0, 255).astype(np.uint8)
    for i in range(n):
        oy, ox = gap + (i // cols) * (r + gap), gap + (i % cols) * (r + gap)
        for ch in range(3):
            img[oy:oy + r, ox:ox + r, ch] = q[i, min(ch, c - 1)]
    f = max(1, min_side // img.shape[1])
    img = img.repeat(f, axis=0).repeat(f, axis=1)
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                 + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def generate_from_checkpoint(args, device):
    """`--load`: the engine's `generate` grid from a checkpoint's G_ema, in PyTorch."""
    np = need_numpy()
    tensors, meta, path = read_checkpoint(args.load)
    cfg, conf = cfg_from_toml(meta.get("config", ""))
    images = int(meta.get("images", "0"))
    res, alpha = schedule_point(cfg, float(conf.get("kimg_per_phase", 600.0)), images,
                                conf.get("phase_images", []))
    G = Generator(cfg).to(device).requires_grad_(False)
    ignored = load_generator(G, tensors)
    if "w_avg" not in tensors or tuple(tensors["w_avg"].shape) != (1, cfg.w_dim):
        sys.exit(f"checkpoint {path}: tensor w_avg [1, {cfg.w_dim}] missing or misshapen")
    w_avg = torch.from_numpy(tensors["w_avg"].copy()).to(device)

    # Latents: as the engine's generate (--latents, or rand_normal([grid^2, z_dim], seed, 0)),
    # or --seeds: one image per seed, each as the engine's `generate --seed S --grid 1`.
    noise_seeds = None
    if args.latents:
        z = np.load(args.latents)
        if z.ndim != 2 or z.shape[1] != cfg.z_dim:
            sys.exit(f"{args.latents}: latents must be [n, {cfg.z_dim}], got {list(z.shape)}")
        z = z.astype(np.float32)
    elif args.seeds:
        seeds = [int(t) for t in args.seeds.split(",") if t.strip()]
        z = np.concatenate([philox_normal((1, cfg.z_dim), s, 0) for s in seeds])
        noise_seeds = seeds
    else:
        g = max(1, args.grid)
        z = philox_normal((g * g, cfg.z_dim), args.seed, 0)
    n = z.shape[0]

    # Noise maps as the engine's NoiseMode: none = zeros; const = noise_map(n, h, w, the run's
    # seed, step 2^52 - 1, layer); random = noise_map(n, h, w, --seed, 0, layer) (with --seeds,
    # each image's own seed).
    def noise(i, b, h, w):
        if args.noise == "none":
            return torch.zeros(b, 1, h, w, device=device)
        if args.noise == "const":
            maps = philox_noise_map(b, h, w, int(conf.get("seed", 1)), (2**64 - 1) >> 12, i)
        elif noise_seeds:
            maps = np.concatenate([philox_noise_map(1, h, w, s, 0, i) for s in noise_seeds])
        else:
            maps = philox_noise_map(b, h, w, args.seed, 0, i)
        return torch.from_numpy(maps).to(device)

    with torch.no_grad():
        w = G.map(torch.from_numpy(z).to(device))
        styles = G.truncate([w] * len(G.layers), w_avg, args.truncation, args.cutoff)
        img = G.synthesis(styles, res, alpha=alpha, noise=noise).cpu().numpy().astype(np.float32)
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(path)), "generated-pytorch.png")
    grid_png(img, math.ceil(math.sqrt(n)), out)
    if args.npy:
        np.save(args.npy, img)
    note = f"; ignored {len(ignored)} unused conv biases" if ignored else ""
    print(f"{res}x{res} (alpha {alpha:.4g}, {images} images) samples from {path} on {device}: {out}"
          f"{' and ' + args.npy if args.npy else ''}{note}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------


def parse_batch(s):
    if s is None:
        return {}
    s = s.strip()
    if ":" not in s:
        return {"*": int(s)}
    out = {}
    for part in s.split(","):
        r, b = part.split(":")
        out[int(r)] = int(b)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    ap.add_argument("--quick", action="store_true",
                    help="tiny shapes: resolutions 4,8,16, fmap_base 256, fmap_max 64, zdim 64, batch 8")
    ap.add_argument("--check", action="store_true", help="sanity-check the model (shapes, GP finite) and exit")
    ap.add_argument("--check-augment", metavar="FILE.json", help="recompute the engine's ADA outputs in FILE "
                    "(written by tests/ada_pytorch.rs) with tools/ada_torch.py; non-zero exit on mismatch")
    ap.add_argument("--ours", metavar="FILE.json", help="the engine's `bench --json` output to compare with")
    ap.add_argument("--json", metavar="OUT.json", help="write this run's results (engine schema)")
    ap.add_argument("--arch", choices=["stylegan1", "stylegan2"], default="stylegan1",
                    help="the train step's model: stylegan1 (default) or stylegan2 (built at each resolution, "
                         "lazy R1 and path length weighted in; resolutions >= 8)")
    ap.add_argument("--resolutions", help="train-step resolutions, e.g. 4,8,16 (default cuda 4..64, cpu 4,8; "
                                          "stylegan2: quick 8,16, cuda 8..256, cpu 8)")
    ap.add_argument("--batch", help="one batch for all resolutions, or res:batch,... (default 4:128 8:128 "
                                    "16:128 32:64 64:32 128:16 256:8)")
    ap.add_argument("--zdim", type=int, help="z and w size (default 512)")
    ap.add_argument("--fmap-base", type=int)
    ap.add_argument("--fmap-max", type=int)
    ap.add_argument("--channels", type=int, default=1, help="image channels (1 for OASIS)")
    ap.add_argument("--max-res", type=int, help="resolution the networks are built for (default 256, "
                                                "--quick: the largest timed); all parameters are stepped")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--step-repeats", type=int, help="timed train steps per resolution (default 10, quick 5)")
    ap.add_argument("--step-warmup", type=int, default=2)
    ap.add_argument("--adam-params", type=int, help="size of the adam/ema op rows")
    ap.add_argument("--filter", help="only op rows whose name contains this")
    ap.add_argument("--no-ops", action="store_true", help="skip the op table")
    ap.add_argument("--no-steps", action="store_true", help="skip the train-step table")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (CPU)")
    ap.add_argument("--no-cudnn-benchmark", action="store_true")
    ap.add_argument("--seed", type=int, default=1,
                    help="torch seed of the benchmark; with --load the engine's generate --seed")
    gen = ap.add_argument_group("pictures from an engine checkpoint (as `stylegan-wgpu generate`)")
    gen.add_argument("--load", metavar="CKPT", help="checkpoint.safetensors or a run directory: generate "
                   "with its G_ema at its resolution and fade alpha, then exit")
    gen.add_argument("--latents", metavar="Z.npy", help="z vectors [n, z_dim] (f32 or f64), as generate --latents")
    gen.add_argument("--seeds", help="one image per seed, e.g. 1,2,3 (each as generate --seed S --grid 1)")
    gen.add_argument("--grid", type=int, default=4, help="without --latents/--seeds: grid x grid images "
                   "drawn from --seed as the engine draws them (default 4)")
    gen.add_argument("--truncation", type=float, default=1.0, help="psi (1 = none)")
    gen.add_argument("--cutoff", type=int, default=8, help="truncate the first CUTOFF style layers (default 8)")
    gen.add_argument("--noise", choices=["random", "const", "none"], default="random",
                   help="noise maps as the engine's (Philox, same numbers); default random")
    gen.add_argument("--out", metavar="GRID.png", help="default <checkpoint dir>/generated-pytorch.png")
    gen.add_argument("--npy", metavar="OUT.npy", help="also the images before quantisation, f32 [n, C, R, R]")
    args = ap.parse_args(argv)
    if args.check_augment:
        sys.exit(ada_torch.check_file(args.check_augment))

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: this torch has no CUDA device (torch.cuda.is_available() is False)")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.benchmark = not args.no_cudnn_benchmark
    if args.load:
        sys.exit(generate_from_checkpoint(args, device))

    q = args.quick
    if args.resolutions:
        args.resolutions = sorted({int(r) for r in args.resolutions.split(",") if r.strip()})
    else:
        args.resolutions = [4, 8, 16] if q else ([4, 8, 16, 32, 64] if device.type == "cuda" else [4, 8])
        if args.arch == "stylegan2":
            args.resolutions = [8, 16] if q else ([8, 16, 32, 64, 128, 256] if device.type == "cuda" else [8])
    low = 8 if args.arch == "stylegan2" else 4
    bad = [r for r in args.resolutions if r < low or r & (r - 1)]
    if bad:
        sys.exit(f"--resolutions: {bad} are not powers of two >= {low}"
                 + (" (StyleGAN2's D needs 8)" if low == 8 else ""))
    zdim = args.zdim or (64 if q else 512)
    cfg = Cfg(z_dim=zdim, w_dim=zdim,
              fmap_base=args.fmap_base or (256 if q else 16384),
              fmap_max=args.fmap_max or (64 if q else 512),
              channels=args.channels,
              max_res=args.max_res or (max(args.resolutions) if q else max(256, max(args.resolutions))))
    if cfg.max_res < max(args.resolutions) or cfg.max_res & (cfg.max_res - 1):
        sys.exit(f"--max-res {cfg.max_res} must be a power of two >= every timed resolution")
    b = parse_batch(args.batch)
    if "*" in b:
        args.batch = {r: b["*"] for r in args.resolutions}
    else:
        base = {r: 8 for r in args.resolutions} if q else dict(DEFAULT_BATCH)
        base.update(b)
        args.batch = base
    if args.step_repeats is None:
        args.step_repeats = 5 if q else 10

    print(f"pytorch {torch.__version__} on {device} ({device_info(device)['name']}); TF32 off; "
          f"cudnn.benchmark {torch.backends.cudnn.benchmark}; threads {torch.get_num_threads()}", file=sys.stderr)
    print(f"model ({args.arch}): z/w {cfg.z_dim}, fmap_base {cfg.fmap_base}, fmap_max {cfg.fmap_max}, channels {cfg.channels}, "
          + ("built at each timed resolution" if args.arch == "stylegan2" else f"built to {cfg.max_res}x{cfg.max_res}"),
          file=sys.stderr)
    if device.type == "cpu" and hasattr(os, "getloadavg"):
        load, cores = os.getloadavg()[0], os.cpu_count() or 1
        if load > 0.5 * cores:
            print(f"warning: load average {load:.1f} on {cores} cores: other processes are busy, so CPU "
                  f"timings with {torch.get_num_threads()} threads will be noisy (try --threads 1)", file=sys.stderr)

    if args.check:
        sys.exit(0 if (run_checks2 if args.arch == "stylegan2" else run_checks)(args, cfg, device) else 1)

    ours = None
    if args.ours:
        ours = load_ours(args.ours)
        od = ours[0].get("device") or {}
        if isinstance(od, dict) and od:
            print(f"ours: {od.get('name', '?')} ({od.get('backend', '?')}"
                  f"{', software' if od.get('software') else ''}); "
                  f"{len(ours[1])} op rows, {len(ours[2])} train-step rows", file=sys.stderr)

    kernels, steps, adam_impl = [], [], None
    ceilings = {}
    if not args.no_ops:
        print("ops:", file=sys.stderr)
        ceilings["copy_gbs"] = copy_ceiling(device, q, args.warmup, args.repeats)
        kernels = bench_ops(args, device)
        mm = [k["gflops"] for k in kernels if k["name"] == "matmul"]
        if mm:
            ceilings["matmul_gflops"] = max(mm)
        for k in kernels:
            k["frac_copy"] = k["gbs"] / ceilings["copy_gbs"] if ceilings["copy_gbs"] else None
    if not args.no_steps:
        print("train steps:", file=sys.stderr)
        steps, adam_impl = (bench_steps2 if args.arch == "stylegan2" else bench_steps)(args, cfg, device)

    print_tables(kernels, steps, ours)

    if args.json:
        out = {
            "framework": f"pytorch {torch.__version__}",
            "device": device_info(device),
            "ceilings": ceilings,
            "config": dict(cfg.as_dict(), arch=args.arch, quick=q, repeats=args.repeats, warmup=args.warmup,
                           step_repeats=args.step_repeats, step_warmup=args.step_warmup,
                           batch={str(k): v for k, v in sorted(args.batch.items()) if k in args.resolutions},
                           adam=adam_impl, tf32=False, cudnn_benchmark=torch.backends.cudnn.benchmark),
            "kernels": kernels,
            "train_step": steps,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
