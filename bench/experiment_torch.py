#!/usr/bin/python3
"""PyTorch CPU reference for the whole-experiment comparison of bench/floors.ts.

The same pipeline as `npm run lab -- run examples/quick.json` (src/core/experiment.ts), on the
same standardised data and split (the bench writes them as .npy files): 2-MLP 784-H-10 (ReLU),
source trained E epochs with torch.optim.SGD (per-epoch validation), the target trained the same
way for Oracle, a linear source trajectory with the cosine lambda schedule, then Naive, Oracle,
GMT (Algorithm 1) and FGMT (Algorithm 2) with T steps, one gradient pair per step on a shared
random minibatch, weight matching by coordinate descent with scipy's linear_sum_assignment (float64),
θ2^s evaluated on validation after every step and on test at the end (and at the best step).
Never a runtime dependency of the lab. Prints one JSON object (accuracies and seconds).

usage: /usr/bin/python3 bench/experiment_torch.py --data DIR [--hidden 512] [--epochs 5] [--T 10]
       [--threads 1]
"""

import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment


def lambdas(T):
    alpha = [1 + math.cos(math.pi * t / T) for t in range(T)]
    Z = sum(alpha)
    out, acc = [0.0], 0.0
    for k in range(1, T + 1):
        acc += alpha[k - 1]
        out.append(1.0 if k == T else acc / Z)
    return out


def init_params(hidden, seed):
    g = torch.Generator().manual_seed(seed)

    def u(shape, fan_in):
        b = 1 / math.sqrt(fan_in)
        return (torch.rand(shape, generator=g) * 2 - 1) * b

    return {
        "w1": u((hidden, 784), 784),
        "b1": u((hidden,), 784),
        "w2": u((10, hidden), hidden),
        "b2": u((10,), hidden),
    }


def forward(p, x):
    return F.linear(F.relu(F.linear(x, p["w1"], p["b1"])), p["w2"], p["b2"])


@torch.no_grad()
def evaluate(p, x, y, batch=1000):
    hits, loss = 0, 0.0
    for s in range(0, len(x), batch):
        z = forward(p, x[s : s + batch])
        hits += int((z.argmax(1) == y[s : s + batch]).sum())
        loss += float(F.cross_entropy(z, y[s : s + batch], reduction="sum"))
    return hits / len(x), loss / len(x)


def train(p0, x, y, xv, yv, epochs, batch, lr, momentum, seed):
    p = {k: v.clone().requires_grad_(True) for k, v in p0.items()}
    opt = torch.optim.SGD(list(p.values()), lr=lr, momentum=momentum)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for s in range(0, len(x), batch):
            idx = order[s : s + batch]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(forward(p, x[idx]), y[idx]).backward()
            opt.step()
        evaluate(p, xv, yv)
    return {k: v.detach() for k, v in p.items()}


def permute(p, perm):
    """π(θ): hidden unit i of the result is unit perm[i] of θ."""
    return {"w1": p["w1"][perm], "b1": p["b1"][perm], "w2": p["w2"][:, perm], "b2": p["b2"]}


def similarity(t, s):
    """⟨target, π·source⟩ as an H×H matrix over the hidden permutation (float32 on the CPU)."""
    return t["w1"] @ s["w1"].T + torch.outer(t["b1"], s["b1"]) + t["w2"].T @ s["w2"]


def solve(a):
    a = a.double().numpy()
    _, col = linear_sum_assignment(a, maximize=True)
    return torch.from_numpy(col)


def grad(p, x, y):
    q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    F.cross_entropy(forward(q, x), y).backward()
    return {k: v.grad for k, v in q.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--T", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    t_start = time.perf_counter()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    load = lambda name: torch.from_numpy(np.load(f"{args.data}/{name}.npy"))
    x, y = load("train_x").reshape(-1, 784), load("train_y").long()
    xv, yv = load("val_x").reshape(-1, 784), load("val_y").long()
    xt, yt = load("test_x").reshape(-1, 784), load("test_y").long()
    H, T = args.hidden, args.T
    seconds = {}

    t0 = time.perf_counter()
    th10 = init_params(H, 101)
    th1T = train(th10, x, y, xv, yv, args.epochs, args.batch, args.lr, args.momentum, 101)
    evaluate(th1T, xv, yv), evaluate(th1T, xt, yt)
    seconds["source training"] = time.perf_counter() - t0
    lam = lambdas(T)
    delta = {k: th1T[k] - th10[k] for k in th10}
    at = lambda t: {k: th10[k] + lam[t] * delta[k] for k in th10}

    th20 = init_params(H, 102)
    evaluate(th20, xv, yv)
    t0 = time.perf_counter()
    th2T = train(th20, x, y, xv, yv, args.epochs, args.batch, args.lr, args.momentum, 102)
    seconds["target training"] = time.perf_counter() - t0
    rng = torch.Generator().manual_seed(7)

    def transferred(t, perm):
        th1t = at(t)
        return {k: th20[k] + v for k, v in permute({k: th1t[k] - th10[k] for k in th10}, perm).items()}

    def pair(t, perm):
        idx = torch.randint(0, len(x), (args.batch,), generator=rng)
        g1 = grad(at(t), x[idx], y[idx])
        g2 = grad(transferred(t, perm), x[idx], y[idx])
        return g2, g1

    def naive():
        for _ in range(T):
            yield torch.arange(H)

    def oracle():
        perm = solve(similarity({k: th2T[k] - th20[k] for k in th20}, delta))
        for _ in range(T):
            yield perm

    def gmt():
        perm = torch.arange(H)
        for s in range(1, T + 1):
            a = None
            for t in range(s):
                g2, g1 = pair(t, perm)
                blk = similarity(g2, g1)
                a = blk if a is None else a + blk
            perm = solve(a)
            yield perm

    def fgmt():
        perm = torch.arange(H)
        a = None
        for s in range(1, T + 1):
            g2, g1 = pair(s - 1, perm)
            blk = similarity(g2, g1)
            a = blk if a is None else a + blk
            perm = solve(a)
            yield perm

    results = {}
    for name, method in [("naive", naive), ("oracle", oracle), ("gmt", gmt), ("fgmt", fgmt)]:
        t0 = time.perf_counter()
        accs = [evaluate(th20, xv, yv)[0]]
        perms = []
        for perm in method():
            perms.append(perm)
            accs.append(evaluate(transferred(len(perms), perm), xv, yv)[0])
        test = evaluate(transferred(T, perms[-1]), xt, yt)[0]
        best = max(range(T + 1), key=lambda t: accs[t])
        if best != T:
            evaluate(th20 if best == 0 else transferred(best, perms[best - 1]), xt, yt)
        seconds[name] = time.perf_counter() - t0
        results[name] = {"valAccuracyFinal": accs[-1], "testAccuracy": test}
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "seconds": time.perf_counter() - t_start,
                "phases": seconds,
                "methods": results,
            }
        )
    )


if __name__ == "__main__":
    main()
