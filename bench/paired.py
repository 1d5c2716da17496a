#!/usr/bin/python3
"""libgan's and PyTorch's train steps in turn, in one process.

    make O=/tmp/build
    /usr/bin/python3 bench/paired.py --lib /tmp/build/lib/libgan.so.0 --pairs 40

`make bench` runs `gan bench` and PyTorch's reference as separate processes,
seconds apart.  This machine changes speed for seconds at a time under a run
(docs/performance.md, "The machine changes speed"), so a round's median
depends on which speed it met.  Here each libgan step is followed at once by
a PyTorch step of the same model and batch, and each pair's ratio is taken:
both sides of a pair see nearly the same machine.  Prints both sides' step
times, the pairs' ratios, the ratio of the medians and the median of the
pairs' ratios.

Each side's step evicts the other's data from the caches, so both run somewhat
slower than alone: this is a check on `make bench`'s ratio, not a replacement.
Use it at one thread: at two, PyTorch's OpenMP workers keep spinning for a
while after each of its steps, on the cores libgan's next step wants.

    /usr/bin/python3 bench/paired.py --lib /tmp/new/lib/libgan.so.0 \
        --vs /tmp/old/lib/libgan.so.0 --pairs 100

pairs two builds of libgan instead (an A/B of a change; no PyTorch), taking
turns at going first.  A build against itself gave 1.000 and 1.007 over 100
pairs here, so such a run resolves about 1 %, where whole processes timed
apart resolve about 3 %.

libgan is loaded with ctypes through its public API; PyTorch's step is
../shared/ref/train_step.py's GANStep (needs Debian's python3-torch), in
`make bench`'s configuration (OpenBLAS at one thread, torch threads = T).
"""
import argparse
import ctypes as C
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REF_DIR = os.path.join(HERE, "..", "..", "shared", "ref")


def libgan_trainer(lib, model, batch, threads, seed):
    """A function that runs one gan_train_step of a preset's trainer, built
    through libgan's C API on a fixed random batch; exits with libgan's
    message on any error."""
    P = C.c_void_p
    lib.gan_last_error.restype = C.c_char_p
    lib.gan_trainer_discriminator.restype = P
    lib.gan_trainer_discriminator.argtypes = [P]

    def check(st, what):
        if st != 0:
            sys.exit(f"{what}: {lib.gan_last_error().decode()}")

    check(lib.gan_set_num_threads(threads), "gan_set_num_threads")
    g, d, t = P(), P(), P()
    check(lib.gan_preset_create(model.encode(), C.c_uint64(seed), C.byref(g), C.byref(d)),
          "gan_preset_create")
    cfg = (C.c_char * 4096)()  # room for gan_trainer_config; the default sets struct_size
    lib.gan_trainer_config_default(cfg)
    check(lib.gan_trainer_create(C.byref(t), g, d, cfg), "gan_trainer_create")
    ndim = C.c_int()
    shape = (C.c_int64 * 8)(batch)
    check(lib.gan_model_input_shape(P(lib.gan_trainer_discriminator(t)), C.byref(ndim),
                                    C.byref(shape, C.sizeof(C.c_int64))),
          "gan_model_input_shape")
    real, rng = P(), P()
    check(lib.gan_tensor_create(C.byref(real), ndim.value + 1, shape), "gan_tensor_create")
    check(lib.gan_rng_create(C.byref(rng), C.c_uint64(seed ^ 0x5eedda7a)), "gan_rng_create")
    check(lib.gan_rng_fill_uniform(rng, real, C.c_float(-1.0), C.c_float(1.0)),
          "gan_rng_fill_uniform")
    return lambda: check(lib.gan_train_step(t, real, None), "gan_train_step")


def pairs(first, second, n, warmup, take_turns=False):
    """Step times (ms) of two step functions run one right after the other, n
    pairs.  With take_turns, second goes first in every other pair."""
    for _ in range(warmup):
        first()
        second()
    a, b = [], []
    for i in range(n):
        order = (second, first) if take_turns and i % 2 else (first, second)
        ms = {}
        for step in order:
            t0 = time.perf_counter()
            step()
            ms[step] = (time.perf_counter() - t0) * 1e3
        a.append(ms[first])
        b.append(ms[second])
    return a, b


def report(name_a, a, name_b, b):
    r = [x / y for x, y in zip(a, b)]
    print(f"{name_a + ' ms':<11}", " ".join(f"{x:.0f}" for x in a))
    print(f"{name_b + ' ms':<11}", " ".join(f"{x:.0f}" for x in b))
    print("ratio      ", " ".join(f"{x:.2f}" for x in r))
    am, bm = statistics.median(a), statistics.median(b)
    print(f"median {name_a} {am:.1f} ms, {name_b} {bm:.1f} ms: ratio of medians {am / bm:.3f}; "
          f"median of the pairs' ratios {statistics.median(r):.3f} "
          f"(pairs {min(r):.2f}-{max(r):.2f})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, help="libgan.so.0 to load")
    ap.add_argument("--vs", help="a second libgan.so.0: pair the two builds, not PyTorch")
    ap.add_argument("--model", default="dcgan28")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()

    libgan_step = libgan_trainer(C.CDLL(a.lib), a.model, a.batch, a.threads, 1)
    print(f"{a.model} batch {a.batch}, {a.threads} thread(s), {a.pairs} pairs after "
          f"{a.warmup} warm-up")
    if a.vs:
        # ctypes loads each library with RTLD_LOCAL: each build calls its own code
        other_step = libgan_trainer(C.CDLL(a.vs), a.model, a.batch, a.threads, 1)
        x, y = pairs(libgan_step, other_step, a.pairs, a.warmup, take_turns=True)
        report("lib", x, "vs", y)
        return

    sys.path.insert(0, REF_DIR)
    import torch
    import train_step

    train_step.set_threads(a.threads, 1)
    torch.manual_seed(0)
    gs = train_step.GANStep(a.model, a.batch, seed=0)
    treal = torch.rand(a.batch, *gs.shape) * 2 - 1
    g, t = pairs(libgan_step, lambda: gs.step(treal), a.pairs, a.warmup)
    report("libgan", g, "PyTorch", t)


if __name__ == "__main__":
    main()
