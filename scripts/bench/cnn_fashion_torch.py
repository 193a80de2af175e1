#!/usr/bin/env python3
"""cnn_fashion_torch.py — the PyTorch twin of scripts/examples/cnn_fashion.lua: the same CNN
(Conv2d 3x3 pad 1 - BatchNorm2d - ReLU - MaxPool2d 2, twice; Linear(64*7*7, 128) - ReLU -
Dropout(0.25) - Linear(128, 10)), PyTorch's default init, Adam lr 1e-3, batch 64, shuffled
each epoch, evaluation in batches of 2000, on the same Fashion-MNIST IDX files.

  /usr/bin/python3 scripts/bench/cnn_fashion_torch.py [--epochs 3] [--seed 1] [--quick]
      [--threads N] [--data DIR] [--batch 64] [--eval-batch 2000]

Prints one line per epoch (samples/s wall and CPU seconds), `test accuracy: 0.xxxx`, and
BENCH lines (train_samples_per_s, cpu_s, maxrss_mib, test_accuracy) for scripts/bench/run.py.
"""
import argparse
import gzip
import os
import resource
import struct
import time

import numpy as np
import torch
import torch.nn as nn


def read_idx(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    magic, = struct.unpack('>I', data[:4])
    nd = magic & 0xff
    dims = struct.unpack('>' + 'I' * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load(d, split):
    base = 'train' if split == 'train' else 't10k'
    find = lambda n: next(p for p in (os.path.join(d, n + '.gz'), os.path.join(d, n))
                          if os.path.exists(p))
    x = read_idx(find(base + '-images-idx3-ubyte')).astype(np.float32) / 255.0
    y = read_idx(find(base + '-labels-idx1-ubyte')).astype(np.int64)
    return torch.from_numpy(x.reshape(-1, 1, 28, 28).copy()), torch.from_numpy(y.copy())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='/usr/share/datasets/fashion-mnist')
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--eval-batch', type=int, default=2000)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--quick', action='store_true')
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data, 'train')
    xte, yte = load(a.data, 'test')
    if a.quick:
        xtr, ytr, xte, yte, a.epochs = xtr[:2000], ytr[:2000], xte[:1000], yte[:1000], 1
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    n = xtr.shape[0]
    print('cnn_fashion_torch: %d train / %d test images, %d parameters, batch %d, %d epoch(s), '
          'seed %d, %d threads' % (n, xte.shape[0], sum(p.numel() for p in model.parameters()),
                                   a.batch, a.epochs, a.seed, torch.get_num_threads()))
    cpu_total, wall_total = 0.0, 0.0
    for epoch in range(1, a.epochs + 1):
        model.train()
        perm = torch.randperm(n)
        c0, w0, total, steps = time.process_time(), time.perf_counter(), 0.0, 0
        for i in range(0, n, a.batch):
            idx = perm[i:i + a.batch]
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        cpu_total, wall_total = cpu_total + cpu, wall_total + wall
        print('epoch %d: train loss %.4f, %.0f samples/s (wall), %.1f s CPU'
              % (epoch, total / steps, n / wall, cpu))
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, xte.shape[0], a.eval_batch):
            correct += (model(xte[i:i + a.eval_batch]).argmax(1) == yte[i:i + a.eval_batch]).sum().item()
    acc = correct / xte.shape[0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print('BENCH train_samples_per_s %.1f' % (n * a.epochs / wall_total))
    print('BENCH cpu_s %.2f' % cpu_total)
    print('BENCH maxrss_mib %.1f' % rss)
    print('BENCH test_accuracy %.4f' % acc)
    print('test accuracy: %.4f' % acc)


if __name__ == '__main__':
    main()
