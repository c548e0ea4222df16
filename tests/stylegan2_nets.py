# StyleGAN2's G and D in PyTorch f64, after stylegan2-ada-pytorch's networks.py,
# conv2d_resample.py, upfirdn2d.py (upfirdn2d_ref), bias_act.py (ref), written from the
# official code, not from our Rust. tests/stylegan2_nets.rs prepends the constants
# (N, ZD, WD, C, RES, LR, MBSTD, GPARAMS, DPARAMS, AT, NOISE_AT) and the input bytes V, then
# reads the printed numbers: G's image, D's score, the gradients of sum(D(G) * gw) w.r.t.
# every G parameter, every D parameter, z1 and z2.
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


# ---- upfirdn2d.py ----
def upfirdn2d(x, f, up=1, down=1, padding=0, gain=1):
    padx0, padx1, pady0, pady1 = [padding] * 4 if isinstance(padding, int) else padding
    batch_size, num_channels, in_height, in_width = x.shape
    x = x.reshape([batch_size, num_channels, in_height, 1, in_width, 1])
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
    x = x.reshape([batch_size, num_channels, in_height * up, in_width * up])
    x = F.pad(x, [max(padx0, 0), max(padx1, 0), max(pady0, 0), max(pady1, 0)])
    x = x[:, :, max(-pady0, 0):x.shape[2] - max(-pady1, 0), max(-padx0, 0):x.shape[3] - max(-padx1, 0)]
    f = f * (gain ** (f.ndim / 2))
    f = f.flip(list(range(f.ndim)))
    f = f[np.newaxis, np.newaxis].repeat([num_channels, 1] + [1] * f.ndim)
    x = F.conv2d(input=x, weight=f, groups=num_channels)
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
        def_gain = np.sqrt(2)
    gain = def_gain if gain is None else gain
    return x * gain if gain != 1 else x


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
