"""torch_bench.py — the PyTorch side of scripts/bench/run.py: the same workloads as the
gb_*.lua scripts, printing "BENCH <key> <value>" lines. Run with Debian's /usr/bin/python3.
  python3 torch_bench.py {epoch,overhead,bigmlp,sgemm,real} [--device cpu|cuda] [--threads N] ...
--threads 0 leaves torch's thread count as installed."""
import argparse
import statistics
import time

import torch


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def synthetic(nb, bs, device):
    g = torch.Generator().manual_seed(1)
    xs = [torch.randn(bs, 784, generator=g).to(device) for _ in range(nb)]
    ys = [torch.randint(0, 10, (bs,), generator=g).to(device) for _ in range(nb)]
    return xs, ys


def bench_epoch(a):
    """(a) seed MLP 784-128-10, SGD lr 0.01, batch 100, 80 steps = one 8000-sample epoch."""
    torch.manual_seed(1)
    xs, ys = synthetic(80, 100, a.device)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10)).to(a.device)
    crit = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def epoch():
        for x, y in zip(xs, ys):
            opt.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            opt.step()
        v = loss.item()
        sync(a.device)
        return v

    first = epoch()
    times = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        last = epoch()
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"BENCH epoch_ms {statistics.median(times):.3f}")
    print(f"BENCH loss_first_epoch {first:.4f}")
    print(f"BENCH loss_last_epoch {last:.4f}")


def per_iter(fn, n, reps=5):
    fn(max(1, n // 10))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(n)
        ts.append((time.perf_counter() - t0) / n)
    return statistics.median(ts)


def bench_overhead(a):
    """(b) host time per op on 1-element tensors; chain = 10 x (relu(y*s)+s), sum, backward."""
    dev, n, chain = a.device, a.iters, 10
    x_a, x_b = torch.ones(1, device=dev), torch.ones(1, device=dev)

    def add_loop(k):
        for _ in range(k):
            c = x_a + x_b
        return c

    with torch.no_grad():
        print(f"BENCH add_nograd_us {per_iter(add_loop, n) * 1e6:.3f}")
    ag = torch.ones(1, device=dev, requires_grad=True)

    def add_grad_loop(k):
        for _ in range(k):
            c = ag + x_b
        return c

    print(f"BENCH add_grad_us {per_iter(add_grad_loop, n) * 1e6:.3f}")
    x = torch.ones(1, device=dev, requires_grad=True)
    s = torch.full((1,), 0.5, device=dev)

    def chain_loop(k):
        for _ in range(k):
            y = x
            for _ in range(chain):
                y = (y * s).relu() + s
            y.sum().backward()
        sync(dev)

    t = per_iter(chain_loop, max(1, n // 50))
    print(f"BENCH chain_us {t * 1e6:.3f}")
    print(f"BENCH chain_per_fwd_op_us {t * 1e6 / (3 * chain + 1):.3f}")


def bench_bigmlp(a):
    """(f) MLP 784-1024-1024-10, batch 256, Adam lr 1e-3: steps per second."""
    torch.manual_seed(1)
    xs, ys = synthetic(10, 256, a.device)
    model = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(),
                                torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
                                torch.nn.Linear(1024, 10)).to(a.device)
    crit = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run(k):
        for s in range(k):
            i = s % len(xs)
            opt.zero_grad()
            loss = crit(model(xs[i]), ys[i])
            loss.backward()
            opt.step()
        loss.item()
        sync(a.device)

    run(3)
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        run(a.steps)
        rates.append(a.steps / (time.perf_counter() - t0))
    print(f"BENCH steps_per_s {statistics.median(rates):.3f}")


def bench_sgemm(a):
    """(e) n x n float32 matmul GFLOP/s, best of 3."""
    for n in [int(v) for v in a.sizes.split(",")]:
        x = torch.randn(n, n, device=a.device)
        y = torch.randn(n, n, device=a.device)
        c = x @ y
        sync(a.device)
        calls = max(3, round(6e10 / (2 * n ** 3)))
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(calls):
                c = x @ y
            sync(a.device)
            best = min(best, (time.perf_counter() - t0) / calls)
        print(f"BENCH sq{n}_gflops {2 * n ** 3 / best * 1e-9:.1f}")


def bench_real(a):
    """(r) the seed recipe on Fashion-MNIST 60k/10k: 784-128-10 ReLU, SGD lr 0.01, batch 100,
    shuffled every epoch; training time only. --loader index: randperm + x[idx] per batch (the
    fastest way PyTorch offers); --loader dataloader: torch.utils.data.DataLoader over a
    TensorDataset with shuffle=True (per-sample fetch and collate)."""
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_train_mnist import load
    torch.manual_seed(1)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "test")
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    crit = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    n, bs = xtr.shape[0], 100
    if a.loader == "dataloader":
        ds = torch.utils.data.TensorDataset(xtr, ytr)
        dl = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True)
        batches = lambda: iter(dl)
    else:
        def batches():
            perm = torch.randperm(n)
            for i in range(0, n, bs):
                idx = perm[i:i + bs]
                yield xtr[idx], ytr[idx]

    def epoch():
        steps = 0
        for x, y in batches():
            opt.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            opt.step()
            steps += 1
        loss.item()
        return steps

    epoch()
    times, cpu = [], []
    for _ in range(a.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        steps = epoch()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    ep = statistics.median(times)
    print(f"BENCH epoch_ms {ep:.3f}")
    print(f"BENCH step_ms {ep / steps:.4f}")
    print(f"BENCH cpu_epoch_ms {statistics.median(cpu):.3f}")
    print(f"BENCH test_acc {acc:.4f}")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("bench", choices=["epoch", "overhead", "bigmlp", "sgemm", "real"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--iters", type=int, default=200000)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--sizes", default="512,1024,2048,4096")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--loader", choices=["index", "dataloader"], default="index")
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    print(f"TORCH {torch.__version__} threads {torch.get_num_threads()}")
    {"epoch": bench_epoch, "overhead": bench_overhead, "bigmlp": bench_bigmlp,
     "sgemm": bench_sgemm, "real": bench_real}[a.bench](a)


if __name__ == "__main__":
    main()
