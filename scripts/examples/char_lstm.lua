-- char_lstm.lua — a character-level LSTM language model on the text of Debian's fortunes
-- package: byte embeddings (64), a 2-layer nn.LSTM (hidden 256), a linear head; Adam lr 2e-3
-- with gradient clipping at 1.0, random windows of 64 bytes, batch 32. PyTorch twin:
-- scripts/bench/torch_char_lstm.py (same model, data, optimizer and evaluation).
--   build/gpubp scripts/examples/char_lstm.lua [--steps N] [--seed N] [--quick] [--bench]
--     [--data DIR] [--batch N] [--context N] [--hidden N] [--layers N] [--lr X]
-- Prints `step <i> loss <l>` lines, then `steps/s <r>` (the steps after the first 5) and ends
-- with `final train loss <a> val loss <b>` (train: mean of the last 50 steps; val: 20 fixed
-- batches); --bench adds `BENCH steps_per_s|final_loss|val_loss <v>` lines for run.py.

local gb = require('gpubp')
local nn = gb.nn

local corpus = dofile((arg and arg[0] or ''):match('^(.-)[^/]*$') .. 'text_corpus.lua')
local o = corpus.options('char_lstm.lua', { steps = 1000, seed = 1,
  data = '/usr/share/games/fortunes', batch = 32, context = 64, hidden = 256, layers = 2,
  embed = 64, lr = 2e-3 }, function(q)
  q.steps, q.batch, q.context, q.hidden, q.layers = 30, 8, 32, 64, 1
end)
local c = corpus.load('char_lstm', o.data)

-- ---- model: (B, T) bytes -> embeddings -> LSTM (batch_first) -> logits (B*T, V) ----------
local LM = nn.Module:extend('CharLSTM')
function LM:init(vocab_size, embed, hidden, layers)
  self.emb = nn.Embedding(vocab_size, embed)
  self.rnn = nn.LSTM(embed, hidden, { num_layers = layers, batch_first = true })
  self.head = nn.Linear(hidden, vocab_size)
end
function LM:forward(x)
  local h = self.rnn(self.emb(x))
  return self.head(h:reshape(-1, h:size(3)))
end

gb.manual_seed(o.seed)
math.randomseed(o.seed)
local model = LM(c.V, o.embed, o.hidden, o.layers)
local opt = gb.optim.Adam(model:parameters(), { lr = o.lr })
print(string.format('model: %d parameters, LSTM %d x %d, context %d, batch %d',
  model:num_parameters(), o.layers, o.hidden, o.context, o.batch))

corpus.train(c, model, opt, o)
