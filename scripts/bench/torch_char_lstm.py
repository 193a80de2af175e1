#!/usr/bin/python3
"""torch_char_lstm.py - PyTorch eager twin of scripts/examples/char_lstm.lua: the same corpus
(Debian's fortunes, every file but .dat/.u8, sorted, as bytes; last 10% for validation), the
same model (byte embeddings 64, nn.LSTM 2 x 256 batch_first, linear head), Adam lr 2e-3 with
gradient clipping at 1.0, random windows of 64 bytes, batch 32, and the same evaluation (20
fixed validation batches). Prints the same lines, and BENCH lines with --bench.
  /usr/bin/python3 scripts/bench/torch_char_lstm.py [--steps 1000] [--seed 1] [--quick]
      [--data DIR] [--batch 32] [--context 64] [--hidden 256] [--layers 2] [--lr 2e-3]
      [--threads N] [--bench]"""
import random

import torch
import torch.nn as nn

import text_corpus


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
    a = text_corpus.parser(batch=32, context=64, hidden=256, layers=2, embed=64,
                           lr=2e-3).parse_args()
    if a.quick:
        a.steps, a.batch, a.context, a.hidden, a.layers = 30, 8, 32, 64, 1
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    c = text_corpus.Corpus('torch_char_lstm', a.data)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    model = LM(c.V, a.embed, a.hidden, a.layers)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    nparams = sum(p.numel() for p in model.parameters())
    print(f'model: {nparams} parameters, LSTM {a.layers} x {a.hidden}, context {a.context}, '
          f'batch {a.batch}')
    text_corpus.train(c, model, opt, a)


if __name__ == '__main__':
    main()
