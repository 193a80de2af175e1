-- char_transformer.lua — a character-level Transformer language model on the text of Debian's
-- fortunes package: token + learned position embeddings, pre-LayerNorm blocks of causal
-- multi-head self-attention and a GELU MLP, AdamW with linear warm-up then cosine decay.
-- Small config: d_model 128, 4 layers, 4 heads, context 128, batch 32. PyTorch twin:
-- scripts/bench/torch_char_transformer.py (same model, data, schedule and evaluation).
--   build/gpubp scripts/examples/char_transformer.lua [--steps N] [--seed N] [--quick]
--     [--data DIR] [--batch N] [--context N] [--layers N] [--lr X] [--warmup N]
-- Prints `step <i> loss <l> lr <lr>` lines, then `steps/s <r>` and ends with
-- `final train loss <a> val loss <b>` (train: mean of the last 50 steps; val: 20 fixed batches);
-- --bench adds `BENCH steps_per_s|final_loss|val_loss <v>` lines for scripts/bench/run.py.
-- steps/s counts the steps after the first 5 (warm-up of allocator caches).
-- Final losses, 200 steps with --warmup 20 (docs/benchmarks.md, 2026-12-02; mean ± half range):
--   gpubp seeds 1-3: train 2.6385 ± 0.0039, val 2.6424 ± 0.0019; PyTorch 1.13 seeds 1-3: train
--   2.6356 ± 0.0125, val 2.6508 ± 0.0082 (scripts/bench/text_seeds.py --only t). 1000 steps: idle.

local gb = require('gpubp')
local nn = gb.nn

local corpus = dofile((arg and arg[0] or ''):match('^(.-)[^/]*$') .. 'text_corpus.lua')
local o = corpus.options('char_transformer.lua', { steps = 1000, seed = 1,
  data = '/usr/share/games/fortunes', batch = 32, context = 128, layers = 4, d_model = 128,
  heads = 4, lr = 1e-3, warmup = 100 }, function(q)
  q.steps, q.batch, q.context, q.layers, q.warmup = 30, 8, 32, 2, 5
end)
local c = corpus.load('char_transformer', o.data)

-- ---- model ------------------------------------------------------------------------------
local Block = nn.Module:extend('Block')
function Block:init(d, h)
  self.ln1 = nn.LayerNorm(d)
  self.attn = nn.MultiheadAttention(d, h, { batch_first = true })
  self.ln2 = nn.LayerNorm(d)
  self.fc1 = nn.Linear(d, 4 * d)
  self.fc2 = nn.Linear(4 * d, d)
end
function Block:forward(x)
  local a = self.ln1(x)
  x = x + self.attn(a, a, a, { is_causal = true, need_weights = false })
  return x + self.fc2(self.fc1(self.ln2(x)):gelu())
end

local LM = nn.Module:extend('CharTransformer')
function LM:init(vocab_size, d, h, layers, context)
  self.tok = nn.Embedding(vocab_size, d)
  self.pos = nn.Embedding(context, d)
  for l = 1, layers do self['block' .. l] = Block(d, h) end
  self.layers = layers
  self.ln = nn.LayerNorm(d)
  self.head = nn.Linear(d, vocab_size)
  self.positions = gb.arange(1, context + 1, { dtype = 'int64' })
end
function LM:forward(x) -- x (B, T) int64 -> logits (B*T, V)
  local T = x:size(2)
  local h = self.tok(x) + self.pos(self.positions:narrow(1, 1, T))
  for l = 1, self.layers do h = self['block' .. l](h) end
  h = self.ln(h)
  return self.head(h:reshape(-1, h:size(3)))
end

gb.manual_seed(o.seed)
math.randomseed(o.seed)
local model = LM(c.V, o.d_model, o.heads, o.layers, o.context)
local opt = gb.optim.AdamW(model:parameters(), { lr = o.lr, betas = { 0.9, 0.99 }, weight_decay = 0.01 })
print(string.format('model: %d parameters, %d layers, d_model %d, %d heads, context %d, batch %d',
  model:num_parameters(), o.layers, o.d_model, o.heads, o.context, o.batch))

-- linear warm-up to lr, then cosine decay to lr/10 at the last step
local function lr_at(step)
  if step <= o.warmup then return o.lr * step / o.warmup end
  local p = (step - o.warmup) / math.max(1, o.steps - o.warmup)
  return o.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))
end

corpus.train(c, model, opt, o, function(step)
  local lr = lr_at(step)
  opt.param_groups[1].lr = lr
  return string.format(' lr %.2e', lr)
end)
