#!/usr/bin/python3
"""Reference vectors for libgan's losses, optimizers and one complete
DCGAN-28 training step, from PyTorch.

Run with Debian's interpreter (it has torch):  /usr/bin/python3 tests/ref/gen_trainer.py
Writes, in the GANREF1 format (see tests/testutil.h):

  trainer_loss.bin   per case c<i>: cfg = [family, role, real_label]
                     (family: gan_loss value; role 0 D real, 1 D fake, 2 G),
                     x (logits), loss, grad (dL/dx)
  trainer_optim.bin  per case c<i>: cfg = [kind, lr, beta1, beta2, eps,
                     momentum, weight_decay, steps], init (18 = dense 5->3
                     weight then bias), g<k> (gradient of step k), p<k>
                     (params after step k)
  trainer_dcgan28.bin  one step of the DCGAN-28 of ../shared/ref/models.py,
                     batch 16, exactly as pytorch/examples/dcgan does it.
                     The inputs are NOT stored: initial weights, the real
                     batch and the noise come from hash_uniform() below,
                     which the C test reproduces bit for bit.  Stored per
                     model tensor ("g.<name>", "d.<name>", state_dict names
                     without "main."): <name>.idx (element indices, as
                     floats) and <name>.val (values after the step); and the
                     stats errD, errG, D_x, D_G_z1, D_G_z2.

Why indices: the full model is ~1.5M parameters (6 MB), over the 300 KB
budget of a reference file, so tensors larger than 4096 elements are
compared on 4096 random elements.  And Adam's first update is about
-lr * sign(grad): an element whose gradient is within float32 noise of zero
can flip sign between float32 (libgan) and this float64 reference, so
elements with |grad| < 1e-3 * rms(grad of that tensor) are left out (the
script prints how many; about 0.1%).

All computations run in float64 on float32-representable inputs with
float32-rounded hyper-parameters, so the references are the exact answer
for what libgan sees.
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ganref import RefFile

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(x):
    """Round to float32, return as float64 (tensor) or Python float."""
    if torch.is_tensor(x):
        return x.float().double()
    return float(np.float32(x))


# ------------------------------------------------------------------ losses
NONSAT, MINIMAX, LSGAN, HINGE, WGAN = range(5)
REAL, FAKE, GEN = range(3)


def loss_fn(family, role, label, x):
    """Written from the definitions, not from libgan's formulas."""
    if family in (NONSAT, MINIMAX):
        if role == GEN and family == MINIMAX:
            return F.logsigmoid(-x).mean()           # log(1 - sigmoid(x))
        y = torch.full_like(x, label if role == REAL else (0.0 if role == FAKE else 1.0))
        return F.binary_cross_entropy_with_logits(x, y)
    if family == LSGAN:
        t = 0.0 if role == FAKE else 1.0
        return 0.5 * ((x - t) ** 2).mean()
    if family == HINGE:
        if role == REAL:
            return F.relu(1 - x).mean()
        if role == FAKE:
            return F.relu(1 + x).mean()
        return -x.mean()
    # WGAN critic: minimise D(fake) - D(real); G minimises -D(fake)
    return x.mean() if role == FAKE else -x.mean()


def gen_losses():
    ref = RefFile("trainer_loss.bin")
    x = f32(torch.cat([torch.tensor([0.0, 30.0, -30.0, 1e-3, -2.5, 0.999, 1.001, -1.0]),
                       torch.randn(8) * 3]))
    for family in range(5):
        for role, label in [(REAL, 1.0), (REAL, 0.9), (FAKE, 1.0), (GEN, 1.0)]:
            put = ref.case()
            xx = x.clone().requires_grad_(True)
            lab = f32(label)
            loss = loss_fn(family, role, lab, xx)
            loss.backward()
            put("cfg", [family, role, lab])
            put("x", x)
            put("loss", loss)
            put("grad", xx.grad)
    ref.write()


# -------------------------------------------------------------- optimizers
ADAM, SGD = 0, 1


def gen_optim():
    ref = RefFile("trainer_optim.bin")
    cases = [  # kind, lr, beta1, beta2, eps, momentum, weight_decay, steps
        (ADAM, 2e-4, 0.5, 0.999, 1e-8, 0.0, 0.0, 4),
        (ADAM, 1e-2, 0.9, 0.99, 1e-6, 0.0, 0.05, 5),
        (SGD, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 3),
        (SGD, 0.05, 0.0, 0.0, 0.0, 0.9, 1e-2, 5),
    ]
    for kind, lr, b1, b2, eps, mom, wd, steps in cases:
        put = ref.case()
        lr, b1, b2, eps, mom, wd = (f32(v) for v in (lr, b1, b2, eps, mom, wd))
        p = nn.Parameter(f32(torch.randn(18) * 0.5))
        if kind == ADAM:
            opt = torch.optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
        else:
            opt = torch.optim.SGD([p], lr=lr, momentum=mom, weight_decay=wd)
        put("cfg", [kind, lr, b1, b2, eps, mom, wd, steps])
        put("init", p)
        for k in range(steps):
            g = f32(torch.randn(18) * (0.1 if k % 2 else 2.0))
            if k == 2:
                g[3] = 0.0   # a zero gradient: Adam still moves it by its momentum
            p.grad = g.clone()
            opt.step()
            put("g%d" % k, g)
            put("p%d" % k, p)
    ref.write()


# ------------------------------------------------------------ DCGAN-28 step
MASK = (1 << 64) - 1


def hash_uniform(seed, n, scale, offset=0.0):
    """float32 values (2u - 1) * scale + offset, u = top 24 bits of
    splitmix64's finaliser applied to (seed << 32) ^ i, for i < n.  The C
    test computes the same bits (see hash_uniform in test_trainer.c)."""
    with np.errstate(over="ignore"):
        i = np.arange(n, dtype=np.uint64)
        z = (np.uint64(seed) << np.uint64(32)) ^ i
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)
    v = (np.float32(2.0) * u - np.float32(1.0)) * np.float32(scale)
    if offset:
        v = v + np.float32(offset)
    return v.astype(np.float32)


W_SCALE = 0.0346    # uniform with std ~0.02, like DCGAN's N(0, 0.02)
BATCH = 16
SEED_REAL, SEED_NOISE, SEED_G, SEED_D = 1, 2, 100, 200


def g28():
    return nn.Sequential(
        nn.ConvTranspose2d(100, 256, 7, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
        nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 1, 4, 2, 1, bias=False), nn.Tanh())


def d28():
    return nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Conv2d(128, 1, 7, 1, 0, bias=False))


def fill_params(net, seed0):
    """Parameter k (in state_dict order, buffers skipped) gets seed seed0 + k;
    BatchNorm weights are 1 + U, everything else U."""
    with torch.no_grad():
        for k, (name, p) in enumerate(net.named_parameters()):
            is_bn_weight = name.endswith("weight") and p.dim() == 1
            v = hash_uniform(seed0 + k, p.numel(), W_SCALE, 1.0 if is_bn_weight else 0.0)
            p.copy_(torch.from_numpy(v).double().reshape(p.shape))


def gen_dcgan28():
    ref = RefFile("trainer_dcgan28.bin")
    netG, netD = g28().double(), d28().double()
    fill_params(netG, SEED_G)
    fill_params(netD, SEED_D)
    real = torch.from_numpy(hash_uniform(SEED_REAL, BATCH * 784, 1.0)).double().reshape(BATCH, 1, 28, 28)
    noise = torch.from_numpy(hash_uniform(SEED_NOISE, BATCH * 100, 1.7320508)).double().reshape(BATCH, 100, 1, 1)
    lr, b1, b2, eps = f32(2e-4), f32(0.5), f32(0.999), f32(1e-8)
    optD = torch.optim.Adam(netD.parameters(), lr=lr, betas=(b1, b2), eps=eps)
    optG = torch.optim.Adam(netG.parameters(), lr=lr, betas=(b1, b2), eps=eps)
    crit = nn.BCEWithLogitsLoss()
    D = lambda x: netD(x).view(-1)

    # (1) D: real, then fake (detached); one optimizer step
    netD.zero_grad()
    label = torch.full((BATCH,), 1.0, dtype=torch.float64)
    out = D(real)
    errD_real = crit(out, label)
    errD_real.backward()
    D_x = out.detach().sigmoid().mean().item()
    fake = netG(noise)
    label.fill_(0.0)
    out = D(fake.detach())
    errD_fake = crit(out, label)
    errD_fake.backward()
    D_G_z1 = out.detach().sigmoid().mean().item()
    errD = errD_real + errD_fake
    d_grads = {n: p.grad.clone() for n, p in netD.named_parameters()}
    optD.step()
    # (2) G: the same fake through the updated D, labelled real
    netG.zero_grad()
    label.fill_(1.0)
    out = D(fake)
    errG = crit(out, label)
    errG.backward()
    D_G_z2 = out.detach().sigmoid().mean().item()
    g_grads = {n: p.grad.clone() for n, p in netG.named_parameters()}
    optG.step()

    rng = np.random.default_rng(5)
    skipped = total = 0
    for tag, net, grads in (("g", netG, g_grads), ("d", netD, d_grads)):
        for name, t in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                ref.add("%s.%s" % (tag, name.replace("main.", "")), t.double())
                continue
            flat = t.flatten()
            n = flat.numel()
            idx = np.arange(n) if n <= 4096 else np.sort(rng.choice(n, 4096, replace=False))
            if name in grads:
                g = grads[name].flatten().numpy()
                rms = np.sqrt(np.mean(g * g))
                keep = np.abs(g[idx]) >= 1e-3 * rms
                skipped += int((~keep).sum())
                idx = idx[keep]
            total += len(idx)
            key = "%s.%s" % (tag, name.replace("main.", ""))
            ref.add(key + ".idx", idx.astype(np.float32))
            ref.add(key + ".val", flat[torch.from_numpy(idx)])
    for k, v in (("errD", errD.item()), ("errG", errG.item()), ("D_x", D_x),
                 ("D_G_z1", D_G_z1), ("D_G_z2", D_G_z2)):
        ref.add(k, [v])
    print("dcgan28: %d elements compared, %d skipped (|grad| < 1e-3 rms);"
          " errD %.6f errG %.6f D_x %.6f D_G_z1 %.6f D_G_z2 %.6f"
          % (total, skipped, errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
    ref.write()


def main():
    torch.manual_seed(4321)
    gen_losses()
    gen_optim()
    gen_dcgan28()


if __name__ == "__main__":
    main()
