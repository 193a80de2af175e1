"""text_corpus.py - what the PyTorch twins of the character-level recipes
(torch_char_transformer.py, torch_char_lstm.py) share, as scripts/examples/text_corpus.lua does
for the gpubp side: the common command line, the corpus (Debian's fortunes, every file but
.dat/.u8, sorted, as bytes; last 10% for validation), random (B, T) windows, and the training
loop with its timing, evaluation and printed lines (the same as the Lua recipes')."""
import argparse
import os
import random
import time

import torch
import torch.nn as nn


def parser(**defaults):
    """An argparse parser with the options every recipe has; `defaults` sets the recipe's."""
    p = argparse.ArgumentParser()
    p.add_argument('--steps', type=int, default=1000)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--quick', action='store_true')
    p.add_argument('--bench', action='store_true')
    p.add_argument('--data', default='/usr/share/games/fortunes')
    p.add_argument('--threads', type=int, default=0)
    for k, v in defaults.items():
        p.add_argument('--' + k, type=type(v), default=v)
    return p


class Corpus:
    """The corpus of directory d: ids (int64), V, N, n_train and batch_at(offsets, T)."""

    def __init__(self, name, d):
        names = sorted(n for n in os.listdir(d) if not n.endswith(('.dat', '.u8')))
        parts = []
        for n in names:
            try:
                with open(os.path.join(d, n), 'rb') as f:
                    parts.append(f.read())
            except OSError:
                pass
        text = b''.join(parts)
        if not text:
            raise SystemExit(f'{name}: no fortune files in {d}')
        vocab = sorted(set(text))
        ids = {c: i for i, c in enumerate(vocab)}
        self.data = torch.tensor([ids[c] for c in text], dtype=torch.long)
        self.V, self.N = len(vocab), len(text)
        self.n_train = int(self.N * 0.9)
        print(f'corpus {self.N} bytes, vocabulary {self.V}, train {self.n_train}, '
              f'val {self.N - self.n_train}')

    def batch_at(self, offs, T):
        idx = torch.tensor(offs).view(-1, 1) + torch.arange(T).view(1, -1)
        return self.data[idx], self.data[idx + 1]


def train(c, model, opt, a, before_step=None):
    """a.steps steps of a.batch random windows of a.context bytes, cross-entropy, gradients
    clipped at 1.0; before_step(step) runs first in each step and returns text for the step
    line. Prints the lines the Lua recipes print (BENCH lines with a.bench)."""
    crit = nn.CrossEntropyLoss()
    T, B = a.context, a.batch
    recent, t0, c0 = [], time.perf_counter(), time.process_time()
    for step in range(1, a.steps + 1):
        if step == min(6, a.steps):
            t0, c0 = time.perf_counter(), time.process_time()
        x, y = c.batch_at([random.randint(0, c.n_train - T - 2) for _ in range(B)], T)
        extra = before_step(step) if before_step else ''
        opt.zero_grad()
        loss = crit(model(x), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        recent.append(loss.item())
        recent = recent[-50:]
        if step == 1 or step % 100 == 0 or step == a.steps:
            print(f'step {step} loss {recent[-1]:.4f}{extra}')
    timed = a.steps - min(6, a.steps) + 1
    elapsed, cpu = time.perf_counter() - t0, (time.process_time() - c0) / timed
    print(f'steps/s {timed / elapsed:.3f} ({timed} steps in {elapsed:.1f} s; CPU time {cpu:.3f} s/step)')
    model.eval()
    with torch.no_grad():
        span = c.N - c.n_train - T - 1
        s = 0.0
        for k in range(20):
            offs = [c.n_train + ((k * B + b) * 7919) % span for b in range(B)]
            x, y = c.batch_at(offs, T)
            s += crit(model(x), y.reshape(-1)).item()
        val = s / 20
    tr = sum(recent) / len(recent)
    print(f'final train loss {tr:.4f} val loss {val:.4f}')
    if a.bench:
        print(f'BENCH steps_per_s {timed / elapsed:.4f}\nBENCH cpu_s_per_step {cpu:.4f}\n'
              f'BENCH final_loss {tr:.4f}\nBENCH val_loss {val:.4f}')
