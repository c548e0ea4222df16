# Whole StyleGAN2 training steps in PyTorch f64: the networks of stylegan2-ada-pytorch's
# networks.py (tools/stylegan2_torch.py), the phases of its loss.py
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
import sys

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

# The networks (and loss.py's run_G): tools/stylegan2_torch.py, shared with
# tools/pytorch_bench.py --arch stylegan2 (TOOLS: the crate's tools/).
sys.path.insert(0, TOOLS)
import stylegan2_torch as sg2  # noqa: E402
from stylegan2_torch import mapping, run_D, run_G  # noqa: E402

sg2.configure(P, RES, LR_MUL, MBSTD)
NUM_WS, NUM_CONV = sg2.NUM_WS, sg2.NUM_CONV
# The parameters pytorch_bench.py builds for a model are the ones our networks have.
_g, _d = sg2.param_shapes(RES, ZD, WD, MAPPING_LAYERS, FMAP_BASE, FMAP_MAX, C)
for ours, built in ((GPARAMS, _g), (DPARAMS, _d)):
    ours = sorted((n, tuple(s)) for n, _, s in ours)
    built = sorted((n, tuple(s)) for n, s, _ in built)
    assert ours == built, (set(ours) - set(built), set(built) - set(ours))


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
