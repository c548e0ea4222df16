# Whole StyleGAN2 training steps in PyTorch f64: the networks of stylegan2-ada-pytorch's
# networks.py (as tests/stylegan2_nets.py re-implements them), the phases of its loss.py
# (StyleGAN2Loss: Gmain, Greg, Dmain, Dreg) and the lazy regularisation of training_loop.py
# (one optimiser per network shared by its main and reg phases, lr * c and betas ** c with
# c = interval / (interval + 1), each reg phase's loss times its interval), written from the
# official code, not from our Rust. Where our trainer deliberately differs, this follows
# ours and says so (marked OURS).
#
# tests/stylegan2_step_parity.rs prepends the constants (N, ZD, WD, C, RES, LR_MUL, MBSTD,
# GPARAMS, DPARAMS, STEPS, the hyper-parameters) and the input bytes V (initial parameters,
# reals, latents, noise maps, path-length directions), then reads the printed numbers: per
# step the D and G main losses, then every G, D and G_ema parameter, Adam's moments (m and v
# of G, then of D), w_avg and the path-length mean.
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)  # tiny tensors: threads only contend with the test harness's
v = torch.frombuffer(bytearray(V), dtype=torch.float64)


def take(at, shape):
    return v[at:at + int(np.prod(shape))].reshape(shape).clone()


GN = [name for name, _, _ in GPARAMS]
DN = [name for name, _, _ in DPARAMS]
P = {name: take(at, shape) for name, at, shape in GPARAMS + DPARAMS}

f1 = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
FILT = torch.outer(f1, f1)
FILT = FILT / FILT.sum()


# ---- upfirdn2d.py (upfirdn2d_ref) ----
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
    return bias_act(x, P[name + '.bias'], act='lrelu', gain=np.sqrt(2))


def torgb(x, w, name):
    weight = P[name + '.weight']
    styles = fc(w, name + '.affine') * (1 / np.sqrt(weight[0].numel()))
    x = modulated_conv2d(x, weight, styles, demodulate=False)
    return bias_act(x, P[name + '.bias'])


def synthesis(ws, noises):
    # noises: one map [n, 1, res, res] per conv layer (the official noise_mode='random'
    # draws them inside; here they are ours, passed in).
    n = ws.shape[0]
    res_list = [2 ** i for i in range(2, int(np.log2(RES)) + 1)]
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
        y = conv_layer(x, b + '.skip', 1, act='linear', down=2, gain=np.sqrt(0.5), bias=False)
        x = conv_layer(x, b + '.conv0', 3)
        x = conv_layer(x, b + '.conv1', 3, down=2, gain=np.sqrt(0.5))
        x = y + x
        res //= 2
    x = mbstd(x, MBSTD)
    x = conv_layer(x, 'd.b4.conv', 3)
    x = fc(x.flatten(1), 'd.b4.fc', act='lrelu')
    return fc(x, 'd.b4.out')


NUM_WS = 2 * (int(np.log2(RES)) - 1)
NUM_CONV = NUM_WS - 1


# ---- loss.py: StyleGAN2Loss.run_G ----
def run_G(z, z2, cutoff, noises):
    ws = mapping(z).unsqueeze(1).repeat([1, NUM_WS, 1])
    # Style mixing as the official code spells it (ws[:, cutoff:] from a second latent); the
    # decision and the cutoff in [1, num_ws) are our step's draws (cutoff = NUM_WS: none).
    if cutoff < NUM_WS:
        ws[:, cutoff:] = mapping(z2).unsqueeze(1).repeat([1, NUM_WS, 1])[:, cutoff:]
    return synthesis(ws, noises), ws


def phase_inputs(at, n):
    z = take(at, [n, ZD])
    z2 = take(at + n * ZD, [n, ZD])
    noises, o = [], at + 2 * n * ZD
    for j in range(NUM_CONV):
        r = 4 << ((j + 1) // 2)
        noises.append(take(o, [n, 1, r, r]))
        o += n * r * r
    return z, z2, noises, o


def leaves(names):
    for k in names:
        P[k] = P[k].detach().requires_grad_(True)
    return [P[k] for k in names]


def grads_of(loss, names):
    gs = torch.autograd.grad(loss, [P[k] for k in names], allow_unused=True)
    return [torch.zeros_like(P[k]) if g is None else g for k, g in zip(names, gs)]


# ---- training_loop.py: one optimiser per network for its main and reg phases ----
class Adam:
    # OURS (src/optim/adam.rs, cpu::optim::adam): p -= lr (m / bc1) / (sqrt(v / bc2) + eps),
    # the same as torch.optim.Adam's lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps) up to rounding.
    # Ours skips a step whose loss or gradient is not finite where the official code replaces
    # NaN/inf in the gradient (nan_to_num); every gradient here is finite.
    def __init__(self, names, interval):
        c = interval / (interval + 1)  # mb_ratio
        self.names, self.lr = names, LR * c
        self.b1, self.b2 = BETA1 ** c, BETA2 ** c
        self.m = {k: torch.zeros_like(P[k]) for k in names}
        self.v = {k: torch.zeros_like(P[k]) for k in names}
        self.t = 0

    def step(self, grads):
        self.t += 1
        bc1, bc2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for k, g in zip(self.names, grads):
            self.m[k] = self.b1 * self.m[k] + (1 - self.b1) * g
            self.v[k] = self.b2 * self.v[k] + (1 - self.b2) * g * g
            P[k] = (P[k] - self.lr * (self.m[k] / bc1) / ((self.v[k] / bc2).sqrt() + EPS)).detach()


opt_G = Adam(GN, PL_INTERVAL)
opt_D = Adam(DN, R1_INTERVAL)
G_EMA = {k: P[k].clone() for k in GN}
W_AVG = torch.zeros([1, WD], dtype=torch.float64)
PL_MEAN = torch.zeros([], dtype=torch.float64)
losses = []

# OUR order within a step: Dmain, Dreg, Gmain, Greg (the official loop runs Gmain, Greg,
# Dmain, Dreg). Each network's phases touch only its own parameters, but the order decides
# which version of the other network a phase sees: here G's loss sees D after this step's
# update and D's fakes come from G before it (officially the reverse), so the script
# follows ours.
for s, (reals_at, d_at, d_cut, g_at, g_cut, pl_at, pl_cut) in enumerate(STEPS):
    reals = take(reals_at, [N, C, RES, RES])

    # Dmain: softplus(D(G(z))) + softplus(-D(x)), fakes made by G as it stands.
    z, z2, noises, _ = phase_inputs(d_at, N)
    with torch.no_grad():
        gen_img, _ = run_G(z, z2, d_cut, noises)
    leaves(DN)
    loss_Dgen = F.softplus(run_D(gen_img))
    loss_Dreal = F.softplus(-run_D(reals))
    loss = loss_Dgen.mean() + loss_Dreal.mean()
    losses.append(loss.detach())
    opt_D.step(grads_of(loss, DN))

    # Dreg: R1 = gamma / 2 |grad_x D(x)|^2, the phase's gain = its interval.
    if s % R1_INTERVAL == 0:
        leaves(DN)
        real_img_tmp = reals.detach().requires_grad_(True)
        real_logits = run_D(real_img_tmp)
        r1_grads = torch.autograd.grad(outputs=[real_logits.sum()], inputs=[real_img_tmp],
                                       create_graph=True, only_inputs=True)[0]
        r1_penalty = r1_grads.square().sum([1, 2, 3])
        loss_Dr1 = r1_penalty * (R1_GAMMA / 2)
        loss = (real_logits * 0 + loss_Dr1).mean().mul(R1_INTERVAL)
        opt_D.step(grads_of(loss, DN))

    # Gmain: softplus(-D(G(z))), D as it stands after its step(s).
    z, z2, noises, _ = phase_inputs(g_at, N)
    leaves(GN)
    gen_img, _ = run_G(z, z2, g_cut, noises)
    # OURS: the running w average takes this phase's batch mean of w (the unmixed first
    # latent's), once per step, where the official mapping updates it on every training call.
    w_mean = mapping(z).detach().mean(dim=0, keepdim=True)
    loss = F.softplus(-run_D(gen_img)).mean()
    losses.append(loss.detach())
    opt_G.step(grads_of(loss, GN))

    # Greg: path length on batch / pl_batch_shrink, gain = its interval. OURS: the phase's
    # latents, mixing and noise are its own draws (the official code reuses Gmain's z).
    if s % PL_INTERVAL == 0:
        n = N // PL_BATCH_SHRINK
        z, z2, noises, dir_at = phase_inputs(pl_at, n)
        leaves(GN)
        gen_img, gen_ws = run_G(z, z2, pl_cut, noises)
        pl_noise = take(dir_at, list(gen_img.shape)) / np.sqrt(gen_img.shape[2] * gen_img.shape[3])
        pl_grads = torch.autograd.grad(outputs=[(gen_img * pl_noise).sum()], inputs=[gen_ws],
                                       create_graph=True, only_inputs=True)[0]
        pl_lengths = pl_grads.square().sum(2).mean(1).sqrt()
        pl_mean = PL_MEAN.lerp(pl_lengths.mean(), PL_DECAY)
        PL_MEAN = pl_mean.detach()
        pl_penalty = (pl_lengths - pl_mean).square()
        loss_Gpl = pl_penalty * PL_WEIGHT
        loss = (gen_img[:, 0, 0, 0] * 0 + loss_Gpl).mean().mul(PL_INTERVAL)
        opt_G.step(grads_of(loss, GN))

    # OURS: G_ema += (1 - beta) (G - G_ema) with beta = 0.5 ** (batch / half-life in images)
    # (the official ema_kimg = batch * 10 / 32 with its ramp-up), and w_avg = lerp(batch
    # mean w, w_avg, w_avg_beta).
    beta = 0.5 ** (N / (EMA_HALF_LIFE_KIMG * 1000))
    for k in GN:
        G_EMA[k] = G_EMA[k] + (1 - beta) * (P[k] - G_EMA[k])
    W_AVG = w_mean + (W_AVG - w_mean) * W_AVG_BETA

out = [torch.stack(losses)]
out += [P[k].flatten() for k in GN + DN]
out += [G_EMA[k].flatten() for k in GN]
for opt in (opt_G, opt_D):
    out += [opt.m[k].flatten() for k in opt.names]
    out += [opt.v[k].flatten() for k in opt.names]
out += [W_AVG.flatten(), PL_MEAN.reshape(1)]
print('\n'.join('%.17g' % t for t in torch.cat(out).tolist()))
