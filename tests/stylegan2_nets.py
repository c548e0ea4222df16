# StyleGAN2's G and D in PyTorch f64 (tools/stylegan2_torch.py: stylegan2-ada-pytorch's
# networks.py, conv2d_resample.py, upfirdn2d.py (upfirdn2d_ref), bias_act.py (ref), written
# from the official code, not from our Rust). tests/stylegan2_nets.rs prepends the constants
# (N, ZD, WD, C, RES, LR, MBSTD, GPARAMS, DPARAMS, AT, NOISE_AT, TOOLS) and the input bytes V, then
# reads the printed numbers: G's image, D's score, the gradients of sum(D(G) * gw) w.r.t.
# every G parameter, every D parameter, z1 and z2.
import sys

import numpy as np
import torch

v = torch.frombuffer(bytearray(V), dtype=torch.float64)


def take(at, shape):
    return v[at:at + int(np.prod(shape))].reshape(shape).clone()


P = {name: take(at, shape).requires_grad_(True) for name, at, shape in GPARAMS + DPARAMS}
Z1 = take(AT, [N, ZD]).requires_grad_(True)
Z2 = take(AT + N * ZD, [N, ZD]).requires_grad_(True)
W_AVG = take(AT + 2 * N * ZD, [WD])
GW = take(AT + 2 * N * ZD + WD, [N, 1])

# The networks (networks.py, and its upfirdn2d, conv2d_resample and bias_act reference
# paths): the shared copy in tools/stylegan2_torch.py (TOOLS: the crate's tools/), also used
# by the step parity test and pytorch_bench.py. The fused modulated conv, as G runs here.
sys.path.insert(0, TOOLS)
import stylegan2_torch as sg2  # noqa: E402

sg2.configure(P, RES, LR, MBSTD)


def noise_maps():
    """Our noise maps, one per conv layer in order (1 at 4x4, 2 per higher resolution)."""
    maps, at = [], NOISE_AT
    for res in [2 ** i for i in range(2, int(np.log2(RES)) + 1)]:
        for _ in range(1 if res == 4 else 2):
            maps.append(take(at, [N, 1, res, res]))
            at += N * res * res
    return maps


num_ws = 2 * (int(np.log2(RES)) - 1)
w1, w2 = sg2.mapping(Z1), sg2.mapping(Z2)
ws = torch.stack([w1 if i < 3 else w2 for i in range(num_ws)], dim=1)
ws = torch.cat([W_AVG.lerp(ws[:, :2], 0.7), ws[:, 2:]], dim=1)
img = sg2.synthesis(ws, noise_maps())
score = sg2.run_D(img)
names = [name for name, _, _ in GPARAMS + DPARAMS]
grads = torch.autograd.grad((score * GW).sum(), [P[n] for n in names] + [Z1, Z2])
out = [img.flatten(), score.flatten()] + [g.flatten() for g in grads]
print('\n'.join('%.17g' % t for t in torch.cat(out).tolist()))
