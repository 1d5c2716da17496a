#!/usr/bin/python3
"""Reference vectors for libgan's conv2d and conv_transpose2d, from PyTorch.

Run with Debian's interpreter (it has torch):  /usr/bin/python3 tests/ref/gen_conv.py
Writes tests/ref/conv_<case>.bin in the GANREF1 format (see tests/testutil.h),
one file per configuration; tests/test_conv.c lists the same case names as
CASES below.

Tensors in each file:
  cfg          [transposed, N, Cin, Cout, H, W, kh, kw, stride, pad, out_pad,
                bias, Hout, Wout]
  x            input (N, Cin, H, W)
  weight       conv (Cout, Cin, kh, kw) / transposed (Cin, Cout, kh, kw)
  bias         (Cout), only when the layer has one
  dy           upstream gradient, shape of y
  y            forward output
  dx, grad_weight, grad_bias   gradients of L = sum(y * dy) from autograd

Inputs (x, weight, bias, dy) larger than INLINE_MAX elements are not stored:
the file holds "<name>.gen" = [seed, e] instead, and the values are
gen_values(seed, numel, e) below, a hash that C reproduces bit for bit.
Those values lie on a coarse grid (k/16 * 2^-e, |k| <= 16), so every product
and partial sum in these cases is exact in float32, in any order: long
float32 sums (K up to 12544 here) otherwise differ from the float64 answer
by a few ulps of the largest value, which near-zero elements can't absorb
at rtol 1e-4 (PyTorch's own float32 result misses by as much).  The small
cases keep full-precision random floats.
Outputs that large are stored as samples: "<name>.idx" (flat indices, exact
in float32) and "<name>.val".  This keeps the DCGAN-sized cases small.

The computation runs in float64 on float32-representable inputs, so the
references are the exact answer for the float32 data libgan sees.
"""
import os

import numpy as np
import torch

from ganref import RefFile

HERE = os.path.dirname(os.path.abspath(__file__))
INLINE_MAX = 12000      # larger tensors are generated (inputs) or sampled (outputs)
SAMPLES = 2500          # about this many samples per large output


def gen_values(seed, n, e):
    """k/16 * 2^-e for k uniform in [-16, 15]; mirrored in test_conv.c."""
    m = np.uint64(0xFFFFFFFF)
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(0x9E3779B1) + np.uint64((seed * 0x85EBCA77) & 0xFFFFFFFF)) & m
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & m
    h ^= h >> np.uint64(12)
    h = (h * np.uint64(0x297A2D39)) & m
    h ^= h >> np.uint64(15)
    k = (h >> np.uint64(27)).astype(np.int64) - 16
    return np.ldexp(k.astype(np.float64), -4 - e).astype(np.float32)


def make_input(ref, name, shape, seed, e, rng):
    """A float32 input: stored inline when small, else by formula."""
    n = int(np.prod(shape))
    if n <= INLINE_MAX:
        a = (rng.uniform(-1.0, 1.0, size=shape) * 2.0 ** -e).astype(np.float32)
        ref.add(name, a)
    else:
        a = gen_values(seed, n, e).reshape(shape)
        ref.add(name + ".gen", [seed, e])
    return torch.from_numpy(a.astype(np.float64)).requires_grad_(name != "dy")


def add_output(ref, name, t, rng):
    a = t.detach().numpy().astype(np.float32)
    if a.size <= INLINE_MAX:
        ref.add(name, a)
        return
    assert a.size < 2 ** 24  # indices must be exact in float32
    step = max(1, a.size // (SAMPLES - 500))
    idx = np.union1d(np.arange(0, a.size, step), rng.choice(a.size, 500, replace=False))
    idx = np.union1d(idx, [a.size - 1])
    ref.add(name + ".idx", idx.astype(np.float32))
    ref.add(name + ".val", a.reshape(-1)[idx])


def weight_exponent(fan_in):
    """e with 2^-e close to 1/sqrt(fan_in), so outputs stay near unit scale."""
    return int(round(np.log2(np.sqrt(fan_in))))


def make_case(name, transposed, n, cin, cout, h, w, kh, kw, s, p, op=0, bias=True):
    seed = sum(ord(ch) * 131 ** i for i, ch in enumerate(name)) & 0xFFFF
    rng = np.random.default_rng(seed)
    ref = RefFile("conv_%s.bin" % name)
    if transposed:
        ho = (h - 1) * s - 2 * p + kh + op
        wo = (w - 1) * s - 2 * p + kw + op
        wshape = (cin, cout, kh, kw)
        fan_in = cout * kh * kw
    else:
        assert op == 0
        ho = (h + 2 * p - kh) // s + 1
        wo = (w + 2 * p - kw) // s + 1
        wshape = (cout, cin, kh, kw)
        fan_in = cin * kh * kw
    ref.add("cfg", [int(transposed), n, cin, cout, h, w, kh, kw, s, p, op, int(bias), ho, wo])
    x = make_input(ref, "x", (n, cin, h, w), seed * 4 + 1, 0, rng)
    wt = make_input(ref, "weight", wshape, seed * 4 + 2, weight_exponent(fan_in), rng)
    b = make_input(ref, "bias", (cout,), seed * 4 + 3, 1, rng) if bias else None
    if transposed:
        y = torch.nn.functional.conv_transpose2d(x, wt, b, stride=s, padding=p,
                                                 output_padding=op)
    else:
        y = torch.nn.functional.conv2d(x, wt, b, stride=s, padding=p)
    assert tuple(y.shape) == (n, cout, ho, wo), (name, y.shape)
    dy = make_input(ref, "dy", tuple(y.shape), seed * 4 + 4, 0, rng)
    (y * dy).sum().backward()
    add_output(ref, "y", y, rng)
    add_output(ref, "dx", x.grad, rng)
    add_output(ref, "grad_weight", wt.grad, rng)
    if bias:
        add_output(ref, "grad_bias", b.grad, rng)
    return ref.write()


# name, transposed, N, Cin, Cout, H, W, kh, kw, stride, pad, [out_pad], [bias]
CASES = [
    # conv2d: kernels 1/3/4/5/7, strides 1/2/3, pads 0/1/2, batch 1/7,
    # channels 1/3/16, non-square inputs and kernels, with and without bias
    ("c_k1s1p0", False, 7, 16, 3, 3, 4, 1, 1, 1, 0),
    ("c_k3s1p1", False, 7, 3, 16, 6, 5, 3, 3, 1, 1),
    ("c_k3s2p0_nobias", False, 1, 1, 3, 9, 7, 3, 3, 2, 0, 0, False),
    ("c_k3s1p2", False, 2, 3, 3, 4, 6, 3, 3, 1, 2),
    ("c_k4s2p1", False, 7, 16, 3, 8, 10, 4, 4, 2, 1),
    ("c_k5s3p2", False, 2, 3, 1, 11, 13, 5, 5, 3, 2),
    ("c_k5s1p0_nobias", False, 1, 16, 16, 6, 7, 5, 5, 1, 0, 0, False),
    ("c_k7s1p0", False, 1, 1, 16, 7, 9, 7, 7, 1, 0),
    ("c_k7s3p1", False, 3, 3, 3, 12, 10, 7, 7, 3, 1),
    ("c_k2x5s2p1_nobias", False, 3, 3, 4, 6, 9, 2, 5, 2, 1, 0, False),
    ("c_k7x3s3p2", False, 2, 1, 3, 10, 5, 7, 3, 3, 2),
    ("c_k1s2p1", False, 1, 3, 16, 5, 4, 1, 1, 2, 1),
    # conv_transpose2d: also output padding 0/1/2
    ("t_k1s1p0_nobias", True, 7, 3, 16, 3, 4, 1, 1, 1, 0, 0, False),
    ("t_k3s1p1", True, 7, 3, 16, 5, 5, 3, 3, 1, 1),
    ("t_k4s2p1", True, 1, 16, 3, 4, 6, 4, 4, 2, 1),
    ("t_k3s2p1_op1_nobias", True, 3, 3, 3, 4, 5, 3, 3, 2, 1, 1, False),
    ("t_k5s3p2_op2", True, 2, 1, 3, 3, 4, 5, 5, 3, 2, 2),
    ("t_k7s1p0", True, 1, 16, 1, 1, 1, 7, 7, 1, 0),
    ("t_k2x5s2p0", True, 2, 3, 1, 3, 3, 2, 5, 2, 0),
    ("t_k3s2p2", True, 7, 1, 3, 4, 3, 3, 3, 2, 2),
    ("t_k5s2p0_op1", True, 2, 16, 3, 3, 2, 5, 5, 2, 0, 1),
    ("t_k7x3s3p1_op1_nobias", True, 1, 3, 16, 2, 3, 7, 3, 3, 1, 1, False),
    ("t_k4s3p2_op0", True, 7, 3, 1, 2, 2, 4, 4, 3, 2, 0),
    # DCGAN-28: generator G and discriminator D, batch 3 (DCGAN has no conv
    # bias; the last one has one here to cover a bias on a 1x1 output)
    ("dcgan_g1", True, 3, 100, 256, 1, 1, 7, 7, 1, 0, 0, False),
    ("dcgan_g2", True, 3, 256, 128, 7, 7, 4, 4, 2, 1, 0, False),
    ("dcgan_g3", True, 3, 128, 1, 14, 14, 4, 4, 2, 1, 0, False),
    ("dcgan_d1", False, 3, 1, 64, 28, 28, 4, 4, 2, 1, 0, False),
    ("dcgan_d2", False, 3, 64, 128, 14, 14, 4, 4, 2, 1, 0, False),
    ("dcgan_d3", False, 3, 128, 1, 7, 7, 7, 7, 1, 0, 0, True),
]


def main():
    torch.manual_seed(0)
    total = 0
    for case in CASES:
        total += make_case(*case)
    print("wrote %d files, %d bytes" % (len(CASES), total))


if __name__ == "__main__":
    main()
