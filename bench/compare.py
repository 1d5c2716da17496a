#!/usr/bin/python3
"""Side-by-side timing of libgan's `gan bench` and PyTorch's reference step.

    make bench                      # all rows, default steps
    /usr/bin/python3 bench/compare.py --rows dcgan28:64:2 --rounds 3
    /usr/bin/python3 bench/compare.py --gan /tmp/build/bin/gan   # an O= build
    /usr/bin/python3 bench/compare.py --generate   # sampling G: gan bench --generate
                                                   # against bench/generate_ref.py
    /usr/bin/python3 bench/compare.py --rows --scaling dcgan28:64   # 2-thread scaling only

For each row (model:batch:threads) the two programs run alternately,
`--rounds` times each, in one run; the table gives each side's median of the
per-round medians (ms/step), the ratio libgan/PyTorch of those, the spread of
the rounds' own ratios (min-max: how far one round can land from the median
on a noisy machine), and peak RSS.

--scaling model:batch ... (default dcgan28:64 when no --rows are given) times
`gan bench` at one thread and at two alternately, `--rounds` times, and prints
the speed-up of two threads over one (the median of the rounds' own ratios,
and their spread): two runs taken back to back see the same machine, where
the table's 1- and 2-thread rows are minutes apart.
PyTorch runs ../shared/ref/train_step.py (needs Debian's python3-torch) in
its best configuration on these machines: OpenBLAS limited to one thread,
torch threads = T (oneDNN does the convolutions).  Only Python's standard
library is used here; torch is imported by the reference script alone.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REF = os.path.join(ROOT, "..", "shared", "ref", "train_step.py")
ROWS = ["dcgan28:64:1", "dcgan28:64:2", "dcgan28:16:2", "dcgan28:256:2", "dcgan64:64:1",
        "dcgan64:64:2"]
GENERATE_REF = os.path.join(HERE, "generate_ref.py")
GENERATE_ROWS = ["dcgan64:1:1", "dcgan64:1:2", "dcgan28:1:1", "dcgan64:16:2"]
GENERATE_STEPS = (50, 5)
GAN = os.environ.get("GAN_BIN", os.path.join(ROOT, "bin", "gan"))
STEPS = {"dcgan28": (30, 5), "dcgan64": (10, 2)}


def run_gan(model, batch, threads, steps, warmup, generate=False):
    out = subprocess.run([GAN, "bench", "--model", model,
                          "--batch", str(batch), "--threads", str(threads),
                          "--steps", str(steps), "--warmup", str(warmup)]
                         + (["--generate"] if generate else []),
                         check=True, capture_output=True, text=True).stdout
    last = out.strip().splitlines()[-1]
    j = json.loads(last)
    return j["ms_per_step_median"], j["ms_per_step_min"], j["peak_rss_kb"] / 1024.0, out


def run_torch(model, batch, threads, steps, warmup, generate=False):
    env = dict(os.environ)
    cmd = ["/usr/bin/python3", GENERATE_REF] if generate else \
        ["/usr/bin/python3", REF, "--blas-threads", "1"]
    out = subprocess.run(cmd + ["--model", model, "--batch", str(batch),
                                "--threads", str(threads),
                                "--steps", str(steps), "--warmup", str(warmup)],
                         check=True, capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(REF)).stdout
    m = re.search(r"median ([\d.]+) ms/\w+\s+min ([\d.]+) ms/\w+.*peak RSS (\d+) MiB", out)
    return float(m.group(1)), float(m.group(2)), float(m.group(3)), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", nargs="*", default=None,
                    help="model:batch:threads ... (default: the issue's rows, or with "
                         "--generate " + " ".join(GENERATE_ROWS) + ")")
    ap.add_argument("--generate", action="store_true",
                    help="time sampling from G (eval mode) instead of training steps")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scaling", nargs="*", default=None,
                    help="model:batch ... to time at 1 and 2 threads alternately (default: "
                         "dcgan28:64 when no --rows are given and not --generate)")
    ap.add_argument("--steps", type=int, default=0, help="override steps per run")
    ap.add_argument("--gan", default=None, help="the gan binary (default: $GAN_BIN or bin/gan)")
    a = ap.parse_args()
    global GAN
    if a.gan:
        GAN = a.gan
    if not os.path.exists(REF):
        sys.exit(f"reference script not found: {REF}")
    version = subprocess.run([GAN, "--version"], capture_output=True, text=True)
    if version.returncode != 0:
        sys.exit(f"{GAN} --version failed: {version.stderr.strip()}")
    print(version.stdout.strip())
    rows = a.rows if a.rows is not None else (GENERATE_ROWS if a.generate else ROWS)
    scaling = a.scaling if a.scaling is not None else \
        ([] if a.generate or a.rows is not None else ["dcgan28:64"])
    unit = "ms/batch" if a.generate else "ms/step"
    table = []
    out = tout = ""
    for row in rows:
        model, batch, threads = row.split(":")
        batch, threads = int(batch), int(threads)
        steps, warmup = GENERATE_STEPS if a.generate else STEPS[model]
        if a.steps:
            steps = a.steps
        g, t, gbest, tbest, grss, trss = [], [], [], [], 0, 0
        for r in range(a.rounds):
            ms, best, rss, out = run_gan(model, batch, threads, steps, warmup, a.generate)
            g.append(ms)
            gbest.append(best)
            grss = max(grss, rss)
            ms, best, rss, tout = run_torch(model, batch, threads, steps, warmup, a.generate)
            t.append(ms)
            tbest.append(best)
            trss = max(trss, rss)
            print(f"  {row} round {r + 1}: libgan {g[-1]:.1f} ms  pytorch {t[-1]:.1f} ms",
                  flush=True)
        gm, tm = statistics.median(g), statistics.median(t)
        rounds = [x / y for x, y in zip(g, t)]
        table.append((model, batch, threads, gm, tm, gm / tm, min(rounds), max(rounds),
                      min(gbest) / min(tbest), grss, trss))
    if table:
        print()
        print(f"| model | batch | threads | libgan {unit} | PyTorch {unit} | ratio "
              "| round ratios | best-step ratio | libgan RSS MiB | PyTorch RSS MiB |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for m, b, th, gm, tm, r, rlo, rhi, rb, gr, tr in table:
            print(f"| {m} | {b} | {th} | {gm:.1f} | {tm:.1f} | {r:.2f} | {rlo:.2f}–{rhi:.2f} "
                  f"| {rb:.2f} | {gr:.0f} | {tr:.0f} |")
        print(f"\n{out.strip().splitlines()[0] if out else ''}")
        print("\n".join(l for l in out.splitlines() if l.strip().startswith("runtime")))
        print(tout.strip().splitlines()[0] if tout else "")
    for case in scaling:
        scale(case, a.rounds, a.steps)


def scale(case, rounds, steps_override):
    """libgan at 1 and 2 threads alternately: the speed-up of two threads."""
    model, batch = case.split(":")
    batch = int(batch)
    steps, warmup = STEPS[model]
    if steps_override:
        steps = steps_override
    one, two = [], []
    for r in range(rounds):
        one.append(run_gan(model, batch, 1, steps, warmup)[0])
        two.append(run_gan(model, batch, 2, steps, warmup)[0])
        print(f"  {case} scaling round {r + 1}: 1 thread {one[-1]:.1f} ms  "
              f"2 threads {two[-1]:.1f} ms  ({one[-1] / two[-1]:.2f}x)", flush=True)
    ratios = [x / y for x, y in zip(one, two)]
    print(f"\n2-thread scaling, {model} batch {batch}: 1 thread {statistics.median(one):.1f} "
          f"ms/step, 2 threads {statistics.median(two):.1f} ms/step, speed-up "
          f"{statistics.median(ratios):.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
