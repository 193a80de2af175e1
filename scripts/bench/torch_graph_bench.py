"""torch_graph_bench.py — the PyTorch twin of gb_graph_bench.lua: training steps per second of
the same MLPs, eager and captured whole as a CUDA graph (torch.cuda.graph, as PyTorch's
documentation captures a full training step: warm-up on a side stream, Adam with
capturable=True, static inputs copied in before each replay).
  python3 torch_graph_bench.py {seed,wide} {eager,graph} [--device cuda] [--tf32]
Prints "BENCH <workload>_<mode>[_tf32] steps_per_s <median>" and "... tflops <x>"."""
import argparse
import statistics
import time

import torch

SHAPES = {"seed": (100, 128, None, "SGD", 200), "wide": (1024, 4096, 4096, "Adam", 30)}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("workload", choices=sorted(SHAPES))
    p.add_argument("mode", choices=["eager", "graph"])
    p.add_argument("--device", default="cuda")
    p.add_argument("--tf32", action="store_true")
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    bs, h1, h2, which, steps = SHAPES[a.workload]
    if a.device == "cpu" and a.workload == "wide":
        steps = 5
    dev = torch.device(a.device)
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(1)
    xs = [torch.randn(bs, 784, generator=g).to(dev) for _ in range(8)]
    ys = [torch.randint(0, 10, (bs,), generator=g).to(dev) for _ in range(8)]
    layers = [torch.nn.Linear(784, h1), torch.nn.ReLU()]
    if h2:
        layers += [torch.nn.Linear(h1, h2), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(h2 or h1, 10))
    model = torch.nn.Sequential(*layers).to(dev)
    crit = torch.nn.CrossEntropyLoss()
    graph = a.mode == "graph"
    if which == "SGD":
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=graph)

    def eager_step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
        return loss

    step = eager_step
    if graph:
        sx, sy = xs[0].clone(), ys[0].clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                eager_step(sx, sy)
        torch.cuda.current_stream().wait_stream(side)
        cg = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(cg):
            sloss = crit(model(sx), sy)
            sloss.backward()
            opt.step()

        def step(x, y):
            sx.copy_(x)
            sy.copy_(y)
            cg.replay()
            return sloss

    def run(n):
        for s in range(n):
            loss = step(xs[s % len(xs)], ys[s % len(ys)])
        return loss.item()

    run(5)
    rates = []
    for _ in range(5):
        t0 = time.perf_counter()
        run(steps)
        rates.append(steps / (time.perf_counter() - t0))
    fwd = 784 * h1 + (h1 * h2 + h2 * 10 if h2 else h1 * 10)
    flops = 2 * bs * (3 * fwd - 784 * h1)
    key = f"{a.workload}_{a.mode}" + ("_tf32" if a.tf32 else "")
    sps = statistics.median(rates)
    print(f"BENCH {key} steps_per_s {sps:.2f}")
    print(f"BENCH {key} tflops {sps * flops / 1e12:.3f}")


if __name__ == "__main__":
    main()
