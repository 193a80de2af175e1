#!/usr/bin/python3
"""torch_char_transformer.py - PyTorch eager twin of scripts/examples/char_transformer.lua: the
same corpus (Debian's fortunes, every file but .dat/.u8, sorted, as bytes; last 10% for
validation), the same pre-LayerNorm Transformer (token + learned position embeddings, causal
nn.MultiheadAttention, GELU MLP, final LayerNorm, linear head), AdamW (betas 0.9/0.99, weight
decay 0.01), linear warm-up then cosine decay to lr/10, gradient clipping at 1.0, and the same
evaluation (20 fixed validation batches). Prints the same lines, and BENCH lines with --bench.
  /usr/bin/python3 scripts/bench/torch_char_transformer.py [--steps 1000] [--seed 1] [--quick]
      [--data DIR] [--batch 32] [--context 128] [--layers 4] [--lr 1e-3] [--warmup 100]
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
        raise SystemExit(f'torch_char_transformer: no fortune files in {d}')
    return data


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, h, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x, mask):
        a = self.ln1(x)
        x = x + self.attn(a, a, a, attn_mask=mask, need_weights=False)[0]
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln2(x))))


class LM(nn.Module):
    def __init__(self, vocab, d, h, layers, context):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.ModuleList([Block(d, h) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        self.register_buffer('mask', torch.triu(torch.full((context, context), float('-inf')), 1))

    def forward(self, x):
        T = x.shape[1]
        h = self.tok(x) + self.pos(torch.arange(T))
        mask = self.mask[:T, :T]
        for b in self.blocks:
            h = b(h, mask)
        return self.head(self.ln(h).reshape(-1, h.shape[2]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--steps', type=int, default=1000)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--quick', action='store_true')
    p.add_argument('--bench', action='store_true')
    p.add_argument('--data', default='/usr/share/games/fortunes')
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--context', type=int, default=128)
    p.add_argument('--layers', type=int, default=4)
    p.add_argument('--d_model', type=int, default=128)
    p.add_argument('--heads', type=int, default=4)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--warmup', type=int, default=100)
    p.add_argument('--threads', type=int, default=0)
    a = p.parse_args()
    if a.quick:
        a.steps, a.batch, a.context, a.layers, a.warmup = 30, 8, 32, 2, 5
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
    model = LM(V, a.d_model, a.heads, a.layers, a.context)
    crit = nn.CrossEntropyLoss()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.99), weight_decay=0.01)
    nparams = sum(p.numel() for p in model.parameters())
    print(f'model: {nparams} parameters, {a.layers} layers, d_model {a.d_model}, {a.heads} '
          f'heads, context {a.context}, batch {a.batch}')
    T, B = a.context, a.batch
    ar = torch.arange(T)

    def batch_at(offs):
        idx = torch.tensor(offs).view(-1, 1) + ar.view(1, -1)
        return data[idx], data[idx + 1]

    def lr_at(step):
        if step <= a.warmup:
            return a.lr * step / a.warmup
        pr = (step - a.warmup) / max(1, a.steps - a.warmup)
        return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * pr)))

    recent, t0, c0 = [], time.perf_counter(), time.process_time()
    for step in range(1, a.steps + 1):
        if step == min(6, a.steps):
            t0, c0 = time.perf_counter(), time.process_time()
        x, y = batch_at([random.randint(0, n_train - T - 2) for _ in range(B)])
        lr = lr_at(step)
        for g in opt.param_groups:
            g['lr'] = lr
        opt.zero_grad()
        loss = crit(model(x), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        recent.append(loss.item())
        recent = recent[-50:]
        if step == 1 or step % 100 == 0 or step == a.steps:
            print(f'step {step} loss {recent[-1]:.4f} lr {lr:.2e}')
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
