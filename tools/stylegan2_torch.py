"""StyleGAN2 in PyTorch: the networks of stylegan2-ada-pytorch's networks.py (with its
upfirdn2d, conv2d_resample and bias_act reference paths) over our parameter names, written
from the official code, not from our Rust. Shared by tests/stylegan2_nets.py (f64, G and D
and their gradients against `Generator2` / `Discriminator2`), tests/stylegan2_step_parity.py
(f64, whole training steps against `Trainer::step`) and tools/pytorch_bench.py --arch
stylegan2 (fp32 timing). Standard library and torch only.

The functions read this module's globals: `configure` sets the parameters P (a dict from
our names to tensors, mutated in place by the callers' optimisers), the resolution RES,
the mapping's lr multiplier, the minibatch-stddev group and the filter's dtype and device.
Where our trainer deliberately differs from the official code the comment says OURS.
"""

import math

import torch
import torch.nn.functional as F

P = {}
RES = 8
LR_MUL = 0.01
MBSTD = 4
NUM_WS = 2 * (int(math.log2(RES)) - 1)
NUM_CONV = NUM_WS - 1
FILT = None
# True: modulated convs as one grouped conv of per-image weights (the official inference
# path); False: the official training path (fused_modconv = False). Equal up to rounding.
FUSED = True


def configure(params, res, lr_mul, mbstd, dtype=torch.float64, device=None, fused=True):
    """Point the model at `params` (our names) built at `res`."""
    global P, RES, LR_MUL, MBSTD, NUM_WS, NUM_CONV, FILT, FUSED
    P, RES, LR_MUL, MBSTD, FUSED = params, res, lr_mul, mbstd, fused
    NUM_WS = 2 * (int(math.log2(res)) - 1)
    NUM_CONV = NUM_WS - 1
    f1 = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=dtype, device=device)
    FILT = torch.outer(f1, f1)
    FILT = FILT / FILT.sum()


def nf(res, fmap_base, fmap_max):
    """src/nn ModelConfig::nf."""
    return max(1, min(fmap_base // res, fmap_max))


def param_shapes(res, z_dim, w_dim, mapping_layers, fmap_base, fmap_max, channels):
    """(G, D) lists of (our name, shape, init) of Generator2 / Discriminator2 built at res:
    init is 'randn', 'zeros' or 'ones' (the affines' bias), as the official init."""
    c = lambda r: nf(r, fmap_base, fmap_max)  # noqa: E731
    g = []
    for i in range(mapping_layers):
        g += [('g.mapping.fc%d.weight' % i, [w_dim, z_dim if i == 0 else w_dim], 'randn'),
              ('g.mapping.fc%d.bias' % i, [w_dim], 'zeros')]
    r = 4
    while r <= res:
        b = 'g.synthesis.b%d' % r
        if r == 4:
            g.append((b + '.const', [1, c(4), 4, 4], 'randn'))
        convs = [('conv1', c(4), c(4))] if r == 4 else [('conv0', c(r // 2), c(r)), ('conv1', c(r), c(r))]
        for name, cin, cout in convs:
            g += [(f'{b}.{name}.weight', [cout, cin, 3, 3], 'randn'), (f'{b}.{name}.bias', [cout], 'zeros'),
                  (f'{b}.{name}.affine.weight', [cin, w_dim], 'randn'),
                  (f'{b}.{name}.affine.bias', [cin], 'ones'),
                  (f'{b}.{name}.noise_strength', [1], 'zeros')]
        g += [(b + '.torgb.weight', [channels, c(r), 1, 1], 'randn'), (b + '.torgb.bias', [channels], 'zeros'),
              (b + '.torgb.affine.weight', [c(r), w_dim], 'randn'), (b + '.torgb.affine.bias', [c(r)], 'ones')]
        r *= 2
    d = []
    r = res
    while r > 4:
        b = 'd.b%d' % r
        if r == res:
            d += [(b + '.fromrgb.weight', [c(r), channels, 1, 1], 'randn'), (b + '.fromrgb.bias', [c(r)], 'zeros')]
        d += [(b + '.conv0.weight', [c(r), c(r), 3, 3], 'randn'), (b + '.conv0.bias', [c(r)], 'zeros'),
              (b + '.conv1.weight', [c(r // 2), c(r), 3, 3], 'randn'), (b + '.conv1.bias', [c(r // 2)], 'zeros'),
              (b + '.skip.weight', [c(r // 2), c(r), 1, 1], 'randn')]
        r //= 2
    c4 = c(4)
    d += [('d.b4.conv.weight', [c4, c4 + 1, 3, 3], 'randn'), ('d.b4.conv.bias', [c4], 'zeros'),
          ('d.b4.fc.weight', [c4, c4 * 16], 'randn'), ('d.b4.fc.bias', [c4], 'zeros'),
          ('d.b4.out.weight', [1, c4], 'randn'), ('d.b4.out.bias', [1], 'zeros')]
    return g, d


# ---- upfirdn2d.py (upfirdn2d_ref) ----
def upfirdn2d(x, f, up=1, down=1, padding=0, flip_filter=False, gain=1):
    """A 2-D filter f, or a 1-D one applied separably (as the official code takes either)."""
    padx0, padx1, pady0, pady1 = [padding] * 4 if isinstance(padding, int) else padding
    batch_size, num_channels, in_height, in_width = x.shape
    x = x.reshape([batch_size, num_channels, in_height, 1, in_width, 1])
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
    x = x.reshape([batch_size, num_channels, in_height * up, in_width * up])
    x = F.pad(x, [max(padx0, 0), max(padx1, 0), max(pady0, 0), max(pady1, 0)])
    x = x[:, :, max(-pady0, 0):x.shape[2] - max(-pady1, 0), max(-padx0, 0):x.shape[3] - max(-padx1, 0)]
    f = f * (gain ** (f.ndim / 2))
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f[None, None].repeat([num_channels, 1] + [1] * f.ndim)
    if f.ndim == 4:
        x = F.conv2d(input=x, weight=f, groups=num_channels)
    else:
        x = F.conv2d(input=x, weight=f.unsqueeze(2), groups=num_channels)
        x = F.conv2d(input=x, weight=f.unsqueeze(3), groups=num_channels)
    return x[:, :, ::down, ::down]


def upsample2d(x, f, up=2):
    fh, fw = f.shape
    p = [(fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2]
    return upfirdn2d(x, f, up=up, padding=p, gain=up * up)


# ---- conv2d_resample.py ----
def conv2d_wrapper(x, w, stride=1, padding=0, groups=1, transpose=False, flip_weight=True):
    if not flip_weight:
        w = w.flip([2, 3])
    op = F.conv_transpose2d if transpose else F.conv2d
    return op(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(x, w, f=None, up=1, down=1, padding=0, groups=1, flip_weight=True):
    out_channels, in_channels_per_group, kh, kw = w.shape
    fh, fw = f.shape if f is not None else (1, 1)
    px0 = px1 = py0 = py1 = padding
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2
    if kw == 1 and kh == 1 and (down > 1 and up == 1):
        x = upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1])
        return conv2d_wrapper(x, w, groups=groups, flip_weight=flip_weight)
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=[px0, px1, py0, py1])
        return conv2d_wrapper(x, w, stride=down, groups=groups, flip_weight=flip_weight)
    if up > 1:
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_channels // groups, in_channels_per_group, kh, kw)
            w = w.transpose(1, 2)
            w = w.reshape(groups * in_channels_per_group, out_channels // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = conv2d_wrapper(x, w, stride=up, padding=[pyt, pxt], groups=groups, transpose=True,
                           flip_weight=(not flip_weight))
        return upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up ** 2)
    assert px0 == px1 == py0 == py1 >= 0
    return conv2d_wrapper(x, w, padding=[py0, px0], groups=groups, flip_weight=flip_weight)


# ---- bias_act.py (ref) ----
def bias_act(x, b=None, act='linear', gain=None):
    if b is not None:
        x = x + b.reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
    def_gain = 1.0
    if act == 'lrelu':
        x = F.leaky_relu(x, 0.2)
        def_gain = math.sqrt(2)
    gain = def_gain if gain is None else gain
    return x * gain if gain != 1 else x


# ---- networks.py ----
def fc(x, name, lr=1.0, act='linear'):
    w = P[name + '.weight'] * (lr / math.sqrt(P[name + '.weight'].shape[1]))
    b = P[name + '.bias'] * lr
    if act == 'linear':
        return torch.addmm(b.unsqueeze(0), x, w.t())
    return bias_act(x.matmul(w.t()), b, act=act)


def conv_layer(x, name, k, act='lrelu', down=1, gain=1, bias=True):
    w = P[name + '.weight']
    w = w * (1 / math.sqrt(w[0].numel()))
    x = conv2d_resample(x, w, f=FILT, down=down, padding=k // 2, flip_weight=True)
    act_gain = (math.sqrt(2) if act == 'lrelu' else 1.0) * gain
    return bias_act(x, P[name + '.bias'] if bias else None, act=act, gain=act_gain)


def modulated_conv2d(x, weight, styles, noise=None, up=1, padding=0, demodulate=True, flip_weight=True):
    # FUSED: one grouped convolution of per-image (de)modulated weights.
    batch_size = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(batch_size, 1, -1, 1, 1)
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
    if not FUSED:
        # The path the official code trains with (fused_modconv = not training): scale
        # the input by the style, the shared weight's conv, then the demodulation.
        x = x * styles.reshape(batch_size, -1, 1, 1)
        x = conv2d_resample(x, weight, f=FILT, up=up, padding=padding, flip_weight=flip_weight)
        if demodulate:
            x = x * dcoefs.reshape(batch_size, -1, 1, 1)
        return x + noise if noise is not None else x
    if demodulate:
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
        x = fc(x, 'g.mapping.fc%d' % i, lr=LR_MUL, act='lrelu')
        i += 1
    return x


def synthesis_layer(x, w, name, noise, up=1):
    styles = fc(w, name + '.affine')
    noise = noise * P[name + '.noise_strength'].reshape([])
    weight = P[name + '.weight']
    if up > 1:
        weight = weight.flip([2, 3])  # OURS: an upsampling conv's weight is stored mirrored
    x = modulated_conv2d(x, weight, styles, noise=noise, up=up, padding=1, flip_weight=(up == 1))
    return bias_act(x, P[name + '.bias'], act='lrelu', gain=math.sqrt(2))


def torgb(x, w, name):
    weight = P[name + '.weight']
    styles = fc(w, name + '.affine') * (1 / math.sqrt(weight[0].numel()))
    x = modulated_conv2d(x, weight, styles, demodulate=False)
    return bias_act(x, P[name + '.bias'])


def synthesis(ws, noises):
    # noises: one map [n, 1, res, res] per conv layer (the official noise_mode='random'
    # draws them inside; here they are ours, passed in).
    n = ws.shape[0]
    res_list = [2 ** i for i in range(2, int(math.log2(RES)) + 1)]
    noises = iter(noises)
    w_idx = 0
    x = img = None
    for res in res_list:
        num_conv = 1 if res == 4 else 2
        w_iter = iter(ws.narrow(1, w_idx, num_conv + 1).unbind(dim=1))
        w_idx += num_conv
        b = 'g.synthesis.b%d' % res
        if res == 4:
            c = P[b + '.const']
            x = c.reshape(c.shape[1:]).unsqueeze(0).repeat([n, 1, 1, 1])
            x = synthesis_layer(x, next(w_iter), b + '.conv1', next(noises))
        else:
            x = synthesis_layer(x, next(w_iter), b + '.conv0', next(noises), up=2)
            x = synthesis_layer(x, next(w_iter), b + '.conv1', next(noises))
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


def run_D(img):
    x = None
    res = RES
    while res > 4:
        b = 'd.b%d' % res
        if x is None:
            x = conv_layer(img, b + '.fromrgb', 1)
        y = conv_layer(x, b + '.skip', 1, act='linear', down=2, gain=math.sqrt(0.5), bias=False)
        x = conv_layer(x, b + '.conv0', 3)
        x = conv_layer(x, b + '.conv1', 3, down=2, gain=math.sqrt(0.5))
        x = y + x
        res //= 2
    x = mbstd(x, MBSTD)
    x = conv_layer(x, 'd.b4.conv', 3)
    x = fc(x.flatten(1), 'd.b4.fc', act='lrelu')
    return fc(x, 'd.b4.out')


# ---- loss.py: StyleGAN2Loss.run_G ----
def run_G(z, z2, cutoff, noises):
    ws = mapping(z).unsqueeze(1).repeat([1, NUM_WS, 1])
    # Style mixing as the official code spells it (ws[:, cutoff:] from a second latent); the
    # decision and the cutoff in [1, num_ws) are our step's draws (cutoff = NUM_WS: none).
    if cutoff < NUM_WS:
        ws[:, cutoff:] = mapping(z2).unsqueeze(1).repeat([1, NUM_WS, 1])[:, cutoff:]
    return synthesis(ws, noises), ws
