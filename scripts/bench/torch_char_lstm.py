#!/usr/bin/python3
"""torch_char_lstm.py - PyTorch eager twin of scripts/examples/char_lstm.lua: the same corpus
(Debian's fortunes, every file but .dat/.u8, sorted, as bytes; last 10% for validation), the
same model (byte embeddings 64, nn.LSTM 2 x 256 batch_first, linear head), Adam lr 2e-3 with
gradient clipping at 1.0, random windows of 64 bytes, batch 32, and the same evaluation (20
fixed validation batches). Prints the same lines, and BENCH lines with --bench.
  /usr/bin/python3 scripts/bench/torch_char_lstm.py [--steps 1000] [--seed 1] [--quick]
      [--data DIR] [--batch 32] [--context 64] [--hidden 256] [--layers 2] [--lr 2e-3]
      [--threads N] [--bench]"""
import argparse
import math
import os
import random
import time

import torch
import torch.nn as nn


def corpus(d):
    names = sorted(n for n in os.listdir(d) if not n.endswith(('.dat', '.u8')))
    parts = []
    for n in names:
        try:
            with open(os.path.join(d, n), 'rb') as f:
                parts.append(f.read())
        except OSError:
            pass
    data = b''.join(parts)
    if not data:
        raise SystemExit(f'torch_char_lstm: no fortune files in {d}')
    return data


class LM(nn.Module):
    def __init__(self, vocab, embed, hidden, layers):
        super().__init__()
        self.emb = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x):
        h, _ = self.rnn(self.emb(x))
        return self.head(h.reshape(-1, h.shape[2]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--steps', type=int, default=1000)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--quick', action='store_true')
    p.add_argument('--bench', action='store_true')
    p.add_argument('--data', default='/usr/share/games/fortunes')
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--context', type=int, default=64)
    p.add_argument('--hidden', type=int, default=256)
    p.add_argument('--layers', type=int, default=2)
    p.add_argument('--embed', type=int, default=64)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--threads', type=int, default=0)
    a = p.parse_args()
    if a.quick:
        a.steps, a.batch, a.context, a.hidden, a.layers = 30, 8, 32, 64, 1
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    text = corpus(a.data)
    vocab = sorted(set(text))
    ids = {c: i for i, c in enumerate(vocab)}
    data = torch.tensor([ids[c] for c in text], dtype=torch.long)
    V, N = len(vocab), len(text)
    n_train = int(N * 0.9)
    print(f'corpus {N} bytes, vocabulary {V}, train {n_train}, val {N - n_train}')
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    model = LM(V, a.embed, a.hidden, a.layers)
    crit = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    nparams = sum(p.numel() for p in model.parameters())
    print(f'model: {nparams} parameters, LSTM {a.layers} x {a.hidden}, context {a.context}, '
          f'batch {a.batch}')
    T, B = a.context, a.batch
    ar = torch.arange(T)

    def batch_at(offs):
        idx = torch.tensor(offs).view(-1, 1) + ar.view(1, -1)
        return data[idx], data[idx + 1]

    recent, t0, c0 = [], time.perf_counter(), time.process_time()
    for step in range(1, a.steps + 1):
        if step == min(6, a.steps):
            t0, c0 = time.perf_counter(), time.process_time()
        x, y = batch_at([random.randint(0, n_train - T - 2) for _ in range(B)])
        opt.zero_grad()
        loss = crit(model(x), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        recent.append(loss.item())
        recent = recent[-50:]
        if step == 1 or step % 100 == 0 or step == a.steps:
            print(f'step {step} loss {recent[-1]:.4f}')
    timed = a.steps - min(6, a.steps) + 1
    elapsed, cpu = time.perf_counter() - t0, (time.process_time() - c0) / timed
    print(f'steps/s {timed / elapsed:.3f} ({timed} steps in {elapsed:.1f} s; CPU time {cpu:.3f} s/step)')
    model.eval()
    with torch.no_grad():
        span = N - n_train - T - 1
        s = 0.0
        for k in range(20):
            offs = [n_train + ((k * B + b) * 7919) % span for b in range(B)]
            x, y = batch_at(offs)
            s += crit(model(x), y.reshape(-1)).item()
        val = s / 20
    tr = sum(recent) / len(recent)
    print(f'final train loss {tr:.4f} val loss {val:.4f}')
    if a.bench:
        print(f'BENCH steps_per_s {timed / elapsed:.4f}\nBENCH cpu_s_per_step {cpu:.4f}\n'
              f'BENCH final_loss {tr:.4f}\nBENCH val_loss {val:.4f}')


if __name__ == '__main__':
    main()
