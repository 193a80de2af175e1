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
import math
import random

import torch
import torch.nn as nn

import text_corpus


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
    a = text_corpus.parser(batch=32, context=128, layers=4, d_model=128, heads=4, lr=1e-3,
                           warmup=100).parse_args()
    if a.quick:
        a.steps, a.batch, a.context, a.layers, a.warmup = 30, 8, 32, 2, 5
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    c = text_corpus.Corpus('torch_char_transformer', a.data)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    model = LM(c.V, a.d_model, a.heads, a.layers, a.context)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.99), weight_decay=0.01)
    nparams = sum(p.numel() for p in model.parameters())
    print(f'model: {nparams} parameters, {a.layers} layers, d_model {a.d_model}, {a.heads} '
          f'heads, context {a.context}, batch {a.batch}')

    def lr_at(step):
        if step <= a.warmup:
            return a.lr * step / a.warmup
        pr = (step - a.warmup) / max(1, a.steps - a.warmup)
        return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * pr)))

    def before_step(step):
        lr = lr_at(step)
        for g in opt.param_groups:
            g['lr'] = lr
        return f' lr {lr:.2e}'

    text_corpus.train(c, model, opt, a, before_step)


if __name__ == '__main__':
    main()
