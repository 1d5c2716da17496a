#!/usr/bin/python3
"""Reference vectors for libgan's non-convolution layers, from PyTorch.

Run with Debian's interpreter (it has torch):  /usr/bin/python3 tests/ref/gen_layers.py
Writes tests/ref/layers_<group>.bin in the GANREF1 format (see tests/testutil.h).

Each file holds several cases.  Case i's tensors are named "c<i>.<what>":
  cfg          the layer's configuration (per group, documented below)
  x            input (N, ...)
  <slot>       parameter / buffer values before the forward ("weight", "bias",
               "running_mean", "running_var")
  y            forward output
  dy           upstream gradient (random)
  dx           dL/dx
  grad_<slot>  parameter gradients
  <buffer>_out buffer values after the forward (batchnorm)
"ncases" is a 1-element tensor with the number of cases.

The computation runs in float64 on float32-representable inputs, so the
references are the exact answer for the float32 data libgan sees.
"""
import os

import numpy as np
import torch

from ganref import RefFile

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(t):
    """Round to float32, then compute in float64."""
    return t.float().double()


def randn(*shape):
    return f32(torch.randn(*shape))


def run(module, x, put):
    """Forward and backward of `module` (float64) on x; record everything."""
    x = x.clone().requires_grad_(True)
    y = module(x)
    dy = randn(*y.shape)
    y.backward(dy)
    put("x", x)
    put("y", y)
    put("dy", dy)
    put("dx", x.grad)
    for name, p in module.named_parameters():
        put("grad_" + name, p.grad)


def gen_dense():
    """cfg = [in, out, bias]."""
    ref = RefFile("layers_dense.bin")
    for n, fin, fout, bias in [(1, 1, 1, 1), (7, 5, 3, 1), (7, 16, 9, 0), (1, 3, 16, 1),
                               (7, 64, 32, 1), (2, 100, 1, 1), (7, 3, 1, 0)]:
        put = ref.case()
        m = torch.nn.Linear(fin, fout, bias=bool(bias)).double()
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(f32(p))
        put("cfg", [fin, fout, bias])
        put("weight", m.weight)
        if bias:
            put("bias", m.bias)
        run(m, randn(n, fin), put)
    ref.write()


def act_input(shape, kind):
    """Normal values, a few exact zeros (the ReLU kink, PyTorch's convention
    there is checked) and, for sigmoid/tanh, large magnitudes."""
    x = randn(*shape).flatten()
    if x.numel() >= 4:
        x[0] = 0.0
        x[-1] = 0.0
        if kind in ("sigmoid", "tanh"):
            x[1] = 100.0
            x[2] = -100.0
    return x.reshape(shape)


def gen_activations():
    """cfg = [kind, slope]; kind 0 relu, 1 leaky_relu, 2 tanh, 3 sigmoid."""
    ref = RefFile("layers_act.bin")
    shapes = [(7, 3, 4, 5), (1, 16), (7, 1, 2, 2), (3, 5, 6)]
    cases = [(0, "relu", None), (1, "leaky_relu", 0.2), (1, "leaky_relu", 0.01),
             (1, "leaky_relu", -0.5), (2, "tanh", None), (3, "sigmoid", None)]
    for code, kind, slope in cases:
        for shape in shapes:
            put = ref.case()
            if kind == "relu":
                m = torch.nn.ReLU()
            elif kind == "leaky_relu":
                m = torch.nn.LeakyReLU(slope)
            elif kind == "tanh":
                m = torch.nn.Tanh()
            else:
                m = torch.nn.Sigmoid()
            put("cfg", [code, slope if slope is not None else 0.0])
            run(m, act_input(shape, kind), put)
    ref.write()


def gen_batchnorm(group, cases):
    """cfg = [C, training, eps, momentum].  gamma, beta and the running
    statistics start random, so eval mode and the momentum update are
    visible; x has a per-channel offset and scale (an extra `offset` moves
    x and the running mean far from 0 compared with the spread)."""
    ref = RefFile("layers_%s.bin" % group)
    for shape, training, eps, momentum, *offset in cases:
        offset = offset[0] if offset else 0.0
        put = ref.case()
        c = shape[1]
        cls = torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d
        m = cls(c, eps=eps, momentum=momentum).double()
        with torch.no_grad():
            m.weight.copy_(f32(1 + 0.5 * torch.randn(c)))
            m.bias.copy_(randn(c))
            m.running_mean.copy_(f32(torch.randn(c) + offset))
            m.running_var.copy_(f32(0.5 + torch.rand(c)))
        m.train(bool(training))
        put("cfg", [c, training, eps, momentum])
        put("weight", m.weight)
        put("bias", m.bias)
        put("running_mean", m.running_mean)
        put("running_var", m.running_var)
        view = (1, c) + (1,) * (len(shape) - 2)
        x = f32(torch.randn(*shape) * (0.5 + torch.rand(view) * 3) + torch.randn(view) * 2
                + offset)
        run(m, x, put)
        put("running_mean_out", m.running_mean)
        put("running_var_out", m.running_var)
    ref.write()


class Reshape(torch.nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape((x.shape[0],) + tuple(self.shape))


def gen_reshape():
    """cfg = [kind (0 reshape, 1 flatten), ndim, d0, d1, d2] (unused dims 0)."""
    ref = RefFile("layers_reshape.bin")
    for shape, target in [((7, 60), (3, 4, 5)), ((7, 3, 4, 5), (12, 5)), ((1, 16, 2, 2), (64,)),
                          ((2, 6), (2, 3, 1)), ((7, 2, 3), (3, 2)), ((3, 1, 1, 1), (1,))]:
        put = ref.case()
        put("cfg", [0, len(target)] + list(target) + [0] * (3 - len(target)))
        run(Reshape(target), randn(*shape), put)
    for shape in [(7, 3, 4, 5), (1, 16, 2, 2), (2, 5), (7, 4, 6)]:
        put = ref.case()
        put("cfg", [1, 0, 0, 0, 0])
        run(torch.nn.Flatten(), randn(*shape), put)
    ref.write()


def main():
    torch.manual_seed(1234)
    gen_dense()
    gen_activations()
    # (shape, training, eps, momentum)
    gen_batchnorm("bn4d", [
        ((7, 3, 4, 5), 1, 1e-5, 0.1),
        ((1, 16, 3, 3), 1, 1e-5, 0.1),
        ((7, 1, 5, 4), 1, 1e-3, 0.5),
        ((7, 16, 2, 3), 0, 1e-5, 0.1),
        ((1, 3, 4, 4), 0, 1e-5, 0.1),
        ((7, 3, 1, 1), 1, 1e-5, 0.1),
        ((2, 3, 7, 9), 1, 0.1, 0.0),
        ((7, 16, 4, 4), 1, 1e-5, 1.0),
        ((1, 1, 1, 1), 0, 1e-5, 0.1),
        ((7, 16, 3, 5), 0, 1e-3, 0.3),
        ((16, 3, 8, 8), 1, 1e-5, 0.1),
        ((7, 3, 5, 5), 1, 1e-5, 0.1, 1000.0),
        ((4, 3, 5, 5), 0, 1e-5, 0.1, -3000.0),
    ])
    gen_batchnorm("bn2d", [
        ((7, 3), 1, 1e-5, 0.1),
        ((7, 16), 1, 1e-5, 0.5),
        ((7, 1), 1, 1e-3, 0.1),
        ((1, 16), 0, 1e-5, 0.1),
        ((7, 16), 0, 1e-5, 0.1),
        ((2, 5), 1, 1e-5, 1.0),
        ((7, 3), 0, 0.1, 0.1),
        ((64, 16), 1, 1e-5, 0.1),
        ((3, 40), 1, 0.01, 0.0),
        ((7, 5), 1, 1e-5, 0.1, 2000.0),
    ])
    gen_reshape()


if __name__ == "__main__":
    main()
