"""torch_train_mnist.py — PyTorch twin of scripts/train_mnist.lua for benchmark (d), peak RSS:
MLP 784-128-10 (ReLU), SGD lr 0.01, batch 100, shuffled, cross-entropy; test accuracy after each
epoch. Reads the same IDX files (gzip or raw). --optim adam and --lr mirror train_mnist.lua's
options, for the accuracy comparison in docs/training.md.
  /usr/bin/python3 scripts/bench/torch_train_mnist.py --data DIR [--epochs 1] [--device cpu]
      [--seed 1] [--optim sgd|adam] [--lr 0.01 (sgd) | 0.001 (adam)]"""
import argparse
import gzip
import os
import struct
import time

import torch


def read_idx(path):
    """Returns a uint8 tensor shaped as the IDX header says; tries PATH and PATH.gz."""
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rb") as f:
                raw = f.read()
            break
    else:
        raise SystemExit(f"torch_train_mnist: missing {path}[.gz]")
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8)
    return data.reshape(dims)


def load(dirname, split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(dirname, f"{prefix}-images-idx3-ubyte"))
    y = read_idx(os.path.join(dirname, f"{prefix}-labels-idx1-ubyte"))
    return x.reshape(x.shape[0], -1).float() / 255.0, y.long()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", default=os.environ.get("GPUBP_DATA", "data/mnist"))
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--optim", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--lr", type=float, default=None)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "test")
    xtr, ytr, xte, yte = (t.to(a.device) for t in (xtr, ytr, xte, yte))
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10)).to(a.device)
    crit = torch.nn.CrossEntropyLoss()
    if a.optim == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=a.lr or 0.001)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=a.lr or 0.01)
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(xtr.shape[0], device=a.device)
        total, nb = 0.0, 0
        for i in range(0, xtr.shape[0], 100):
            idx = perm[i:i + 100]
            loss = crit(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            nb += 1
        with torch.no_grad():
            correct = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
                          for i in range(0, xte.shape[0], 1000))
        acc = correct / xte.shape[0]
        print(f"epoch {epoch}/{a.epochs}  train loss {total / nb:.4f}  test accuracy {acc:.4f}  "
              f"time {time.perf_counter() - t0:.1f}s")
    print(f"test accuracy: {acc:.4f}")


if __name__ == "__main__":
    main()
