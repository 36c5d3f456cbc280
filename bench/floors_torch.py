#!/usr/bin/python3
"""PyTorch/scipy side of the floors in bench/floors.ts (issue 9). One measurement per call, one JSON
object on stdout; the caller interleaves calls with the engine's own measurements.

  eval   --hidden H [--n 6000]     one evaluation pass (argmax hits + summed cross-entropy) of a
                                   2-MLP 784-H-10 on n images kept as one [n, 784] tensor, batch 1000
  sim    --hidden H                the per-step similarity build of FGMT for P_fc1 from one real gradient
                                   pair (two 784-H-10 MLPs, one batch of 128), with the engine's low-rank
                                   products: A += [D_t; gb_t; G2_t]ᵀ·[(X·Xᵀ)·D_s; gb_s; G2_s] (D: dLoss/d
                                   pre-activation of the hidden layer, X: the images), the same sum as the
                                   dense g1_W1ᵀ·g2_W1 + b1⊗b2 + g1_W2·g2_W2ᵀ
  lsa    FILE.npy                  linear_sum_assignment(maximize=True) in this fresh process: the
                                   first call, then the median of 3 warm calls
Timed calls: --warmup W untimed, then --reps R timed; prints median/min/max in seconds.
"""
import argparse
import json
import statistics
import time


def timed(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return {"median": statistics.median(ts), "min": min(ts), "max": max(ts), "times": ts}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["eval", "sim", "lsa"])
    ap.add_argument("file", nargs="?")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    if a.what == "lsa":
        import numpy as np
        from scipy.optimize import linear_sum_assignment

        m = np.load(a.file)
        t0 = time.perf_counter()
        _, col = linear_sum_assignment(m, maximize=True)
        first = time.perf_counter() - t0
        warm = timed(lambda: linear_sum_assignment(m, maximize=True), 0, 3)
        print(json.dumps({"first": first, "warm": warm["median"], "objective": float(m[np.arange(len(col)), col].sum())}))
        return
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    H = a.hidden
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if a.what == "eval":
        x = torch.randn(a.n, 784)
        y = torch.randint(0, 10, (a.n,))
        w1, b1 = torch.randn(H, 784) * 0.03, torch.zeros(H)
        w2, b2 = torch.randn(10, H) * 0.03, torch.zeros(10)

        @torch.no_grad()
        def run():
            hits, loss = 0, 0.0
            for s in range(0, a.n, 1000):
                z = F.linear(F.relu(F.linear(x[s : s + 1000], w1, b1)), w2, b2)
                hits += int((z.argmax(1) == y[s : s + 1000]).sum())
                loss += float(F.cross_entropy(z, y[s : s + 1000], reduction="sum"))
            return hits, loss

        out.update(timed(run, a.warmup, a.reps))
    else:
        m = 128
        x = torch.randn(m, 784)
        y = torch.randint(0, 10, (m,))

        def factors(seed):
            # PyTorch's default init U(±1/√fan_in); D by hand: the softmax's (p − onehot)/m back
            # through W2 and the ReLU
            g = torch.Generator().manual_seed(seed)
            u = lambda shape, fan: (torch.rand(shape, generator=g) * 2 - 1) / fan**0.5
            w1, b1, w2, b2 = u((H, 784), 784), u(H, 784), u((10, H), H), u(10, H)
            h = F.relu(F.linear(x, w1, b1))
            d2 = (F.softmax(F.linear(h, w2, b2), 1) - F.one_hot(y, 10).float()) / m
            d1 = (d2 @ w2) * (h > 0).float()
            return d1, d1.sum(0), d2.T @ h  # D [m, H], the bias gradient [H], W2's gradient [10, H]

        (d_t, gb_t, g2_t), (d_s, gb_s, g2_s) = factors(2), factors(1)
        acc = torch.zeros(H, H)

        def run():
            left = torch.cat([d_t, gb_t[None], g2_t])
            right = torch.cat([(x @ x.T) @ d_s, gb_s[None], g2_s])
            acc.add_(left.T @ right)

        out.update(timed(run, a.warmup, a.reps))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
