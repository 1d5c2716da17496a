#!/usr/bin/python3
"""PyTorch side of libgan's checkpoint tests.

  /usr/bin/python3 tests/ref/gen_checkpoint.py
      writes tests/ref/ckpt_torch_g28.safetensors   state dict of a DCGAN-28
                                                     generator (narrowed, see G28N)
             tests/ref/ckpt_torch_mlp.safetensors   state dict of a net using every
                                                     layer kind libgan has
             tests/ref/ckpt_torch.bin               GANREF1: fixed noise and the
                                                     nets' outputs
  /usr/bin/python3 tests/ref/gen_checkpoint.py --check FILE [--ref TORCHFILE]
      loads a libgan-written FILE (model or trainer checkpoint) into PyTorch:
      checks the container byte by byte, rebuilds nn.Sequential from the
      libgan.arch metadata, load_state_dict(strict=True), and with --ref
      compares every tensor with the PyTorch-written TORCHFILE and the
      outputs with ckpt_torch.bin.  Run by hand (not at test time).

The `safetensors` package is not installed here, so the format is written
and read with json + struct, following the reference implementation: u64
little-endian header length, compact JSON header ("__metadata__" first,
then tensors sorted by dtype, largest first, then by name) padded with
spaces to a multiple of 8 bytes, then the tensors' bytes back to back.

The state dicts are PyTorch's own: nn.Sequential keys "0.weight",
"1.running_mean", "1.num_batches_tracked", ... (pytorch/examples wraps its
nets in `.main`; these nets are plain Sequentials, so there is no prefix).
Outputs are computed in float64 from the float32 weights, so they are the
exact answers for what libgan loads.
"""
import argparse
import copy
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

from ganref import RefFile

HERE = os.path.dirname(os.path.abspath(__file__))

# ------------------------------------------------------------ safetensors
DTYPES = {  # name: (numpy dtype, order of the reference implementation's enum)
    "BOOL": (np.bool_, 0), "U8": (np.uint8, 1), "I8": (np.int8, 2),
    "I16": (np.int16, 5), "U16": (np.uint16, 6), "F16": (np.float16, 7),
    "I32": (np.int32, 9), "U32": (np.uint32, 10), "F32": (np.float32, 11),
    "F64": (np.float64, 12), "I64": (np.int64, 13), "U64": (np.uint64, 14),
}
NP_TO_NAME = {np.dtype(v[0]): k for k, v in DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    """tensors: name -> numpy array (any dtype above); metadata: str -> str."""
    arrays = {k: np.array(v, order="C", copy=True) for k, v in tensors.items()}  # keeps 0-d
    order = sorted(arrays, key=lambda k: (-DTYPES[NP_TO_NAME[arrays[k].dtype]][1], k))
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for k in order:
        a = arrays[k]
        n = a.nbytes
        header[k] = {"dtype": NP_TO_NAME[a.dtype], "shape": list(a.shape),
                     "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for k in order:
            f.write(arrays[k].astype(arrays[k].dtype.newbyteorder("<")).tobytes())


def load_safetensors(path, strict_layout=True):
    """Returns (tensors: name -> numpy array, metadata dict).  Checks the
    container like the reference implementation does."""
    with open(path, "rb") as f:
        raw = f.read()
    assert len(raw) >= 8, "file shorter than 8 bytes"
    (n,) = struct.unpack("<Q", raw[:8])
    assert 8 + n <= len(raw), "header length beyond the file"
    text = raw[8:8 + n]
    assert text[:1] == b"{", "header does not start with '{'"
    if strict_layout:
        assert (8 + n) % 8 == 0, "header not padded to a multiple of 8"
        assert text.rstrip(b" ") == text.rstrip(), "padding is not spaces"
    header = json.loads(text.decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    data = raw[8 + n:]
    out, spans = {}, []
    for name, d in header.items():
        np_dtype = np.dtype(DTYPES[d["dtype"]][0]).newbyteorder("<")
        shape = tuple(d["shape"])
        b, e = d["data_offsets"]
        assert e - b == int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize, name
        spans.append((b, e))
        out[name] = np.frombuffer(data[b:e], dtype=np_dtype).reshape(shape).astype(
            np_dtype.newbyteorder("="))
    at = 0
    for b, e in sorted(spans):
        assert b == at, "gap or overlap in data_offsets"
        at = e
    assert at == len(data), "tensors do not cover the data section"
    return out, meta


def state_dict_numpy(net):
    return {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}


# ------------------------------------------------------------------- nets
def g28n():
    """DCGAN-28's generator (models.py G28) with narrowed widths so that the
    committed file stays small: nz 16, 32 and 16 channels instead of 100,
    256 and 128.  Same layer kinds, kernels, strides and paddings."""
    return nn.Sequential(
        nn.ConvTranspose2d(16, 32, 7, 1, 0, bias=False),   # 7x7
        nn.BatchNorm2d(32),
        nn.ReLU(True),
        nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False),   # 14x14
        nn.BatchNorm2d(16),
        nn.ReLU(True),
        nn.ConvTranspose2d(16, 1, 4, 2, 1, bias=False),    # 28x28
        nn.Tanh(),
    )


def mlp_all_kinds():
    """Every libgan layer kind, biases on and off, non-default BN settings."""
    return nn.Sequential(
        nn.Linear(8, 24),                                       # 0
        nn.BatchNorm1d(24, eps=1e-3, momentum=0.2),             # 1
        nn.LeakyReLU(0.2),                                      # 2
        nn.Linear(24, 32, bias=False),                          # 3
        nn.Tanh(),                                              # 4
        nn.Unflatten(1, (2, 4, 4)),                             # 5 reshape 2 4 4
        nn.ConvTranspose2d(2, 3, 3, 2, 1, output_padding=1),    # 6 -> 3x8x8
        nn.BatchNorm2d(3),                                      # 7
        nn.ReLU(),                                              # 8
        nn.Conv2d(3, 4, 3, 1, 1),                               # 9 -> 4x8x8
        nn.Sigmoid(),                                           # 10
        nn.Flatten(),                                           # 11 -> 256
    )


NETS = {  # name: (constructor, per-sample input shape)
    "g28": (g28n, (16, 1, 1)),
    "mlp": (mlp_all_kinds, (8,)),
}


def f32(t):
    return t.float().double()


def make_reference(name, ref):
    ctor, in_shape = NETS[name]
    net = ctor()
    for m in net.modules():  # DCGAN-style init, then non-trivial BN affine
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.2 if isinstance(m, nn.Linear) else 0.05)
            if m.bias is not None:
                nn.init.uniform_(m.bias, -0.3, 0.3)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.normal_(m.weight, 1.0, 0.1)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    net.train()
    with torch.no_grad():  # move the running statistics off their defaults
        for _ in range(3):
            net(torch.randn(6, *in_shape) * 1.5 + 0.3)
    sd = state_dict_numpy(net)
    path = os.path.join(HERE, "ckpt_torch_%s.safetensors" % name)
    save_safetensors(path, sd)

    z = f32(torch.randn(5, *in_shape))
    net64 = copy.deepcopy(net).double()
    with torch.no_grad():
        net64.eval()
        y_eval = net64(z)
        net64.train()
        y_train = net64(z)
    ref.add(name + ".z", z)
    ref.add(name + ".y_eval", y_eval)
    ref.add(name + ".y_train", y_train)
    print("%s: %d tensors, %d bytes; output %s" % (os.path.basename(path), len(sd),
                                                   os.path.getsize(path), tuple(y_eval.shape)))
    assert os.path.getsize(path) < 300 * 1024


# --------------------------------------------------- libgan arch -> torch
def _kv(tokens):
    return dict(t.split("=", 1) for t in tokens)


def _kernel(v):
    h, _, w = v.partition("x")
    return (int(h), int(w or h))


def arch_to_sequential(text):
    """nn.Sequential equivalent to libgan's architecture text."""
    lines = [l.split("#")[0].split() for l in text.split("\n")]
    lines = [l for l in lines if l]
    assert lines[0][0] == "input"
    shape = tuple(int(x) for x in lines[0][1:])
    mods = []
    for tok in lines[1:]:
        kind, kv = tok[0], tok[1:]
        if kind == "dense":
            a = _kv(kv)
            mods.append(nn.Linear(int(a["in"]), int(a["out"]), bias=a.get("bias", "1") == "1"))
            shape = (int(a["out"]),)
        elif kind in ("conv2d", "conv_transpose2d"):
            a = _kv(kv)
            k, s, p = _kernel(a["k"]), int(a.get("s", 1)), int(a.get("p", 0))
            bias = a.get("bias", "1") == "1"
            c, h, w = shape
            if kind == "conv2d":
                mods.append(nn.Conv2d(int(a["in"]), int(a["out"]), k, s, p, bias=bias))
                shape = (int(a["out"]), (h + 2 * p - k[0]) // s + 1, (w + 2 * p - k[1]) // s + 1)
            else:
                op = int(a.get("op", 0))
                mods.append(nn.ConvTranspose2d(int(a["in"]), int(a["out"]), k, s, p,
                                               output_padding=op, bias=bias))
                shape = (int(a["out"]), (h - 1) * s - 2 * p + k[0] + op,
                         (w - 1) * s - 2 * p + k[1] + op)
        elif kind == "batchnorm":
            a = _kv(kv)
            bn = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
            mods.append(bn(int(a["features"]), eps=float(a.get("eps", 1e-5)),
                           momentum=float(a.get("momentum", 0.1))))
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "leaky_relu":
            mods.append(nn.LeakyReLU(float(_kv(kv).get("slope", 0.01))))
        elif kind == "tanh":
            mods.append(nn.Tanh())
        elif kind == "sigmoid":
            mods.append(nn.Sigmoid())
        elif kind == "flatten":
            mods.append(nn.Flatten())
            shape = (int(np.prod(shape)),)
        elif kind == "reshape":
            shape = tuple(int(x) for x in kv)
            mods.append(nn.Unflatten(1, shape))
        else:
            raise ValueError("unknown layer kind " + kind)
    return nn.Sequential(*mods)


def check(path, ref_path):
    tensors, meta = load_safetensors(path)
    print("%s: container ok, %d tensors, metadata keys %s" % (path, len(tensors), sorted(meta)))
    kind = meta.get("libgan.kind")
    if kind == "model":
        parts = {"": meta["libgan.arch"]}
    elif kind == "trainer":
        parts = {"G.": meta["libgan.G.arch"], "D.": meta["libgan.D.arch"]}
        opt = [k for k in tensors if k.startswith("opt")]
        print("  optimizer tensors: %d (%s ...)" % (len(opt), ", ".join(sorted(opt)[:3])))
    else:
        sys.exit("not a libgan file (libgan.kind = %r)" % kind)
    for prefix, arch in parts.items():
        net = arch_to_sequential(arch)
        sd = {k[len(prefix):]: torch.from_numpy(v) for k, v in tensors.items()
              if k.startswith(prefix)}
        net.load_state_dict(sd, strict=True)  # raises on any missing/unexpected key
        print("  %s: load_state_dict(strict=True) ok: %d tensors into %s" %
              (prefix or "model", len(sd), net.__class__.__name__))
        if ref_path and prefix == "":
            want, _ = load_safetensors(ref_path)
            assert sorted(want) == sorted(sd), "tensor names differ"
            for k in want:
                assert np.array_equal(want[k], sd[k].numpy()), k
            print("  every tensor is bitwise equal to %s" % ref_path)
            name = os.path.basename(ref_path)[len("ckpt_torch_"):-len(".safetensors")]
            refs = read_ganref(os.path.join(HERE, "ckpt_torch.bin"))
            net = net.double().eval()
            with torch.no_grad():
                y = net(torch.from_numpy(refs[name + ".z"]).double())
            d = float((y - torch.from_numpy(refs[name + ".y_eval"]).double()).abs().max())
            print("  eval output vs reference: max |diff| %.3g" % d)
            assert d < 1e-5


def read_ganref(path):
    out = {}
    with open(path, "rb") as f:
        assert f.read(8) == b"GANREF1\n"
        while True:
            b = f.read(4)
            if not b:
                return out
            (n,) = struct.unpack("<I", b)
            name = f.read(n).decode()
            (nd,) = struct.unpack("<I", f.read(4))
            dims = struct.unpack("<%dI" % nd, f.read(4 * nd))
            cnt = int(np.prod(dims))
            out[name] = np.frombuffer(f.read(4 * cnt), dtype="<f4").reshape(dims).copy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", metavar="FILE")
    ap.add_argument("--ref", metavar="TORCHFILE")
    args = ap.parse_args()
    if args.check:
        check(args.check, args.ref)
        return
    torch.manual_seed(1234)
    ref = RefFile(os.path.join(HERE, "ckpt_torch.bin"))
    for name in NETS:
        make_reference(name, ref)
    ref.write()
    # our own reader accepts what we wrote, and PyTorch takes it back
    for name, (ctor, _) in NETS.items():
        t, meta = load_safetensors(os.path.join(HERE, "ckpt_torch_%s.safetensors" % name))
        ctor().load_state_dict({k: torch.from_numpy(v) for k, v in t.items()}, strict=True)
    print("ckpt_torch.bin: %d records" % len(ref.records))


if __name__ == "__main__":
    main()
