"""PyTorch CPU reference for bench/training.ts: the paper's 2-MLP step on the same shapes.

784 -> 4096 -> 10 with ReLU, mean cross-entropy, torch.optim.SGD(lr, momentum=0.9), batch 128,
minibatches gathered from a preloaded tensor by a shuffled index as trainModel does. Prints one
JSON object. --threads 0 keeps PyTorch's default thread count. --device cuda runs it on the GPU
(bench/gpu.ts: the same-device baseline of the webgpu backend); timings then wait for the device.
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    dev = torch.device(args.device)
    # CUDA runs asynchronously: a timer must wait for the queue, as the lab's readback does
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    n = args.batch * (args.steps + args.warmup)
    x = torch.randn(n, 1, 28, 28).to(dev)
    y = torch.randint(0, 10, (n,)).to(dev)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, args.hidden), torch.nn.ReLU(), torch.nn.Linear(args.hidden, 10)
    ).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    order = torch.randperm(n).to(dev)

    def batch(i: int):
        idx = order[i * args.batch : (i + 1) * args.batch]
        return x[idx], y[idx]

    def step(i: int) -> None:
        xb, yb = batch(i)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()

    for i in range(args.warmup):
        step(i)
    sync()
    t0 = time.perf_counter()
    for i in range(args.warmup, args.warmup + args.steps):
        step(i)
    sync()
    seconds = time.perf_counter() - t0

    # the same step in parts, averaged over a few repetitions
    reps = max(3, args.steps // 3)
    xb, yb = batch(0)
    fwd = bwd = upd = 0.0
    for _ in range(reps):
        opt.zero_grad(set_to_none=True)
        t = time.perf_counter()
        loss = F.cross_entropy(model(xb), yb)
        sync()
        t1 = time.perf_counter()
        loss.backward()
        sync()
        t2 = time.perf_counter()
        opt.step()
        sync()
        t3 = time.perf_counter()
        fwd += t1 - t
        bwd += t2 - t1
        upd += t3 - t2

    a = torch.randn(1024, 1024, device=dev)
    b = torch.randn(1024, 1024, device=dev)
    a @ b
    sync()
    mm_reps = 5
    t = time.perf_counter()
    for _ in range(mm_reps):
        a @ b
    sync()
    mm = (time.perf_counter() - t) / mm_reps

    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
                "threads": torch.get_num_threads(),
                "steps": args.steps,
                "stepsPerSec": args.steps / seconds,
                "forwardMs": 1000 * fwd / reps,
                "backwardMs": 1000 * bwd / reps,
                "updateMs": 1000 * upd / reps,
                "matmul1024Ms": 1000 * mm,
            }
        )
    )


if __name__ == "__main__":
    main()
