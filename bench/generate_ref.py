#!/usr/bin/python3
"""PyTorch's side of `gan bench --generate`: draw a batch from the reference
generator in eval mode, from fresh noise, as a program that embeds a
generator would.

    /usr/bin/python3 bench/generate_ref.py --model dcgan64 --batch 1 --threads 2

Builds the generator with ../shared/ref/models.py and sets threads the way
../shared/ref/train_step.py does (its set_threads: torch threads = T,
OpenBLAS at one thread).  Prints one line in train_step.py's format,
"... median X ms/step ... peak RSS N MiB", which bench/compare.py reads.
"""
import argparse
import os
import statistics
import sys
import time

REF_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "ref")
sys.path.insert(0, REF_DIR)

import torch  # noqa: E402

import models  # noqa: E402
import train_step  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="dcgan64", choices=list(models.MODELS))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    train_step.set_threads(a.threads, 1)
    torch.manual_seed(a.seed)
    net_g, _, _ = models.build(a.model, seed=a.seed)
    net_g.eval()
    nz = models.NZ
    ts = []
    with torch.no_grad():
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            net_g(torch.randn(a.batch, nz, 1, 1))
            if i >= a.warmup:
                ts.append(time.perf_counter() - t0)
    med = statistics.median(ts)
    print(f"RESULT generate model={a.model} batch={a.batch} threads={a.threads} "
          f"steps={a.steps} warmup={a.warmup}: median {med * 1e3:.3f} ms/step  "
          f"min {min(ts) * 1e3:.3f} ms/step  images/s {a.batch / med:.1f}  "
          f"peak RSS {train_step.peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
