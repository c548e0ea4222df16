# StyleGAN2's G and D in PyTorch f64, after stylegan2-ada-pytorch's networks.py,
# conv2d_resample.py, upfirdn2d.py (upfirdn2d_ref), bias_act.py (ref), written from the
# official code, not from our Rust. tests/stylegan2_nets.rs prepends the constants
# (N, ZD, WD, C, RES, LR, MBSTD, GPARAMS, DPARAMS, AT, NOISE_AT, TOOLS) and the input bytes V, then
# reads the printed numbers: G's image, D's score, the gradients of sum(D(G) * gw) w.r.t.
# every G parameter, every D parameter, z1 and z2.
import sys

import numpy as np
import torch
import torch.nn.functional as F

v = torch.frombuffer(bytearray(V), dtype=torch.float64)


def take(at, shape):
    return v[at:at + int(np.prod(shape))].reshape(shape).clone()


P = {name: take(at, shape).requires_grad_(True) for name, at, shape in GPARAMS + DPARAMS}
Z1 = take(AT, [N, ZD]).requires_grad_(True)
Z2 = take(AT + N * ZD, [N, ZD]).requires_grad_(True)
W_AVG = take(AT + 2 * N * ZD, [WD])
GW = take(AT + 2 * N * ZD + WD, [N, 1])

f1 = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
FILT = torch.outer(f1, f1)
FILT = FILT / FILT.sum()


# upfirdn2d.py, conv2d_resample.py and bias_act.py's reference paths: the shared copy in
# tools/stylegan2_torch.py (TOOLS: the crate's tools/), also used by the step parity test.
sys.path.insert(0, TOOLS)
from stylegan2_torch import bias_act, conv2d_resample, upsample2d  # noqa: E402


# ---- networks.py ----
def fc(x, name, lr=1.0, act='linear'):
    w = P[name + '.weight'] * (lr / np.sqrt(P[name + '.weight'].shape[1]))
    b = P[name + '.bias'] * lr
    if act == 'linear':
        return torch.addmm(b.unsqueeze(0), x, w.t())
    return bias_act(x.matmul(w.t()), b, act=act)


def conv_layer(x, name, k, act='lrelu', down=1, gain=1, bias=True):
    w = P[name + '.weight']
    w = w * (1 / np.sqrt(w[0].numel()))
    x = conv2d_resample(x, w, f=FILT, down=down, padding=k // 2, flip_weight=True)
    act_gain = (np.sqrt(2) if act == 'lrelu' else 1.0) * gain
    return bias_act(x, P[name + '.bias'] if bias else None, act=act, gain=act_gain)


def modulated_conv2d(x, weight, styles, noise=None, up=1, padding=0, demodulate=True, flip_weight=True):
    # The fused path: one grouped convolution of per-image (de)modulated weights.
    batch_size = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(batch_size, 1, -1, 1, 1)
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        w = w * dcoefs.reshape(batch_size, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw)
    x = conv2d_resample(x, w, f=FILT, up=up, padding=padding, groups=batch_size, flip_weight=flip_weight)
    x = x.reshape(batch_size, -1, *x.shape[2:])
    if noise is not None:
        x = x + noise
    return x


def mapping(z):
    x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
    i = 0
    while ('g.mapping.fc%d.weight' % i) in P:
        x = fc(x, 'g.mapping.fc%d' % i, lr=LR, act='lrelu')
        i += 1
    return x


noise_at = [NOISE_AT]


def synthesis_layer(x, w, name, res, up=1):
    styles = fc(w, name + '.affine')
    noise = take(noise_at[0], [N, 1, res, res]) * P[name + '.noise_strength'].reshape([])
    noise_at[0] += N * res * res
    weight = P[name + '.weight']
    if up > 1:
        weight = weight.flip([2, 3])  # our convention (see the Rust test's comment)
    x = modulated_conv2d(x, weight, styles, noise=noise, up=up, padding=1, flip_weight=(up == 1))
    return bias_act(x, P[name + '.bias'], act='lrelu', gain=np.sqrt(2))


def torgb(x, w, name):
    weight = P[name + '.weight']
    styles = fc(w, name + '.affine') * (1 / np.sqrt(weight[0].numel()))
    x = modulated_conv2d(x, weight, styles, demodulate=False)
    return bias_act(x, P[name + '.bias'])


def synthesis(ws):
    res_list = [2 ** i for i in range(2, int(np.log2(RES)) + 1)]
    w_idx = 0
    x = img = None
    for res in res_list:
        num_conv = 1 if res == 4 else 2
        w_iter = iter(ws.narrow(1, w_idx, num_conv + 1).unbind(dim=1))
        w_idx += num_conv
        b = 'g.synthesis.b%d' % res
        if res == 4:
            c = P[b + '.const']
            x = c.reshape(c.shape[1:]).unsqueeze(0).repeat([N, 1, 1, 1])
            x = synthesis_layer(x, next(w_iter), b + '.conv1', res)
        else:
            x = synthesis_layer(x, next(w_iter), b + '.conv0', res, up=2)
            x = synthesis_layer(x, next(w_iter), b + '.conv1', res)
        if img is not None:
            img = upsample2d(img, FILT)
        y = torgb(x, next(w_iter), b + '.torgb')
        img = img + y if img is not None else y
    return img


def mbstd(x, group_size, num_channels=1):
    N_, C_, H, W = x.shape
    G = min(group_size, N_)
    Fc = num_channels
    c = C_ // Fc
    y = x.reshape(G, -1, Fc, c, H, W)
    y = y - y.mean(dim=0)
    y = y.square().mean(dim=0)
    y = (y + 1e-8).sqrt()
    y = y.mean(dim=[2, 3, 4])
    y = y.reshape(-1, Fc, 1, 1)
    y = y.repeat(G, 1, H, W)
    return torch.cat([x, y], dim=1)


def discriminator(img):
    x = None
    res = RES
    while res > 4:
        b = 'd.b%d' % res
        if x is None:
            x = conv_layer(img, b + '.fromrgb', 1)
        y = conv_layer(x, b + '.skip', 1, act='linear', down=2, gain=np.sqrt(0.5), bias=False)
        x = conv_layer(x, b + '.conv0', 3)
        x = conv_layer(x, b + '.conv1', 3, down=2, gain=np.sqrt(0.5))
        x = y + x
        res //= 2
    x = mbstd(x, MBSTD)
    x = conv_layer(x, 'd.b4.conv', 3)
    x = fc(x.flatten(1), 'd.b4.fc', act='lrelu')
    return fc(x, 'd.b4.out')


num_ws = 2 * (int(np.log2(RES)) - 1)
w1, w2 = mapping(Z1), mapping(Z2)
ws = torch.stack([w1 if i < 3 else w2 for i in range(num_ws)], dim=1)
ws = torch.cat([W_AVG.lerp(ws[:, :2], 0.7), ws[:, 2:]], dim=1)
img = synthesis(ws)
score = discriminator(img)
names = [name for name, _, _ in GPARAMS + DPARAMS]
grads = torch.autograd.grad((score * GW).sum(), [P[n] for n in names] + [Z1, Z2])
out = [img.flatten(), score.flatten()] + [g.flatten() for g in grads]
print('\n'.join('%.17g' % t for t in torch.cat(out).tolist()))
