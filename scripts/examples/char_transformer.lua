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

local gb = require('gpubp')
local nn = gb.nn

local o = { steps = 1000, seed = 1, data = '/usr/share/games/fortunes', batch = 32, context = 128,
  layers = 4, d_model = 128, heads = 4, lr = 1e-3, warmup = 100, quick = false, bench = false }
local i = 1
while arg and arg[i] do
  local k = arg[i]:match('^%-%-([%w_]+)$')
  if k == 'quick' or k == 'bench' then
    o[k], i = true, i + 1
  elseif k and o[k] ~= nil and arg[i + 1] then
    o[k] = type(o[k]) == 'number' and tonumber(arg[i + 1]) or arg[i + 1]
    i = i + 2
  else
    error('usage: char_transformer.lua [--steps N] [--seed N] [--quick] [--data DIR] [--batch N] '
      .. '[--context N] [--layers N] [--lr X] [--warmup N]', 0)
  end
end
if o.quick then o.steps, o.batch, o.context, o.layers, o.warmup = 30, 8, 32, 2, 5 end

-- ---- data: every fortune file (not .dat / .u8), sorted by name, as bytes ----------------
local function corpus(dir)
  local p = io.popen("ls '" .. dir .. "' 2>/dev/null")
  local names = {}
  for n in p:lines() do
    if not n:match('%.dat$') and not n:match('%.u8$') then names[#names + 1] = n end
  end
  p:close()
  table.sort(names)
  local parts = {}
  for _, n in ipairs(names) do
    local f = io.open(dir .. '/' .. n, 'rb')
    if f then
      local s = f:read('a')
      f:close()
      if s and #s > 0 then parts[#parts + 1] = s end
    end
  end
  if #parts == 0 then
    error('char_transformer: no fortune files in ' .. dir .. ' (install Debian\'s fortunes package: scripts/setup.sh)', 0)
  end
  return table.concat(parts)
end

local text = corpus(o.data)
local seen, vocab = {}, {}
for c = 0, 255 do seen[c] = false end
for k = 1, #text do seen[text:byte(k)] = true end
local id = {}
for c = 0, 255 do
  if seen[c] then vocab[#vocab + 1] = c; id[c] = #vocab end
end
local V, N = #vocab, #text
local n_train = math.floor(N * 0.9)
print(string.format('corpus %d bytes, vocabulary %d, train %d, val %d', N, V, n_train, N - n_train))

-- (B, T) inputs and next-byte targets starting at the given 1-based offsets
local function batch_at(offsets, T)
  local xs, ys = {}, {}
  for b, off in ipairs(offsets) do
    local x, y = {}, {}
    local bytes = { text:byte(off, off + T) }
    for t = 1, T do x[t], y[t] = id[bytes[t]], id[bytes[t + 1]] end
    xs[b], ys[b] = x, y
  end
  return gb.tensor(xs, { dtype = 'int64' }), gb.tensor(ys, { dtype = 'int64' })
end

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
local model = LM(V, o.d_model, o.heads, o.layers, o.context)
local crit = nn.CrossEntropyLoss()
local opt = gb.optim.AdamW(model:parameters(), { lr = o.lr, betas = { 0.9, 0.99 }, weight_decay = 0.01 })
print(string.format('model: %d parameters, %d layers, d_model %d, %d heads, context %d, batch %d',
  model:num_parameters(), o.layers, o.d_model, o.heads, o.context, o.batch))

-- linear warm-up to lr, then cosine decay to lr/10 at the last step
local function lr_at(step)
  if step <= o.warmup then return o.lr * step / o.warmup end
  local p = (step - o.warmup) / math.max(1, o.steps - o.warmup)
  return o.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))
end

local T, B = o.context, o.batch
local recent, t0, c0 = {}, gb.time(), os.clock()
for step = 1, o.steps do
  if step == math.min(6, o.steps) then t0, c0 = gb.time(), os.clock() end
  local offs = {}
  for b = 1, B do offs[b] = math.random(1, n_train - T - 1) end
  local x, y = batch_at(offs, T)
  local lr = lr_at(step)
  opt.param_groups[1].lr = lr
  opt:zero_grad()
  local loss = crit(model(x), y:view(-1))
  loss:backward()
  nn.utils.clip_grad_norm(model:parameters(), 1.0)
  opt:step()
  local l = loss:item()
  recent[#recent + 1] = l
  if #recent > 50 then table.remove(recent, 1) end
  if step == 1 or step % 100 == 0 or step == o.steps then
    print(string.format('step %d loss %.4f lr %.2e', step, l, lr))
  end
end
local timed = o.steps - math.min(6, o.steps) + 1
local elapsed, cpu = gb.time() - t0, (os.clock() - c0) / timed
print(string.format('steps/s %.3f (%d steps in %.1f s; CPU time %.3f s/step)', timed / elapsed,
  timed, elapsed, cpu))

model:eval()
local val = gb.no_grad(function()
  local s, n = 0, 20
  local span = N - n_train - T - 1
  for k = 0, n - 1 do
    local offs = {}
    for b = 1, B do offs[b] = n_train + 1 + ((k * B + b - 1) * 7919) % span end
    local x, y = batch_at(offs, T)
    s = s + crit(model(x), y:view(-1)):item()
  end
  return s / n
end)
local tr = 0
for _, l in ipairs(recent) do tr = tr + l end
print(string.format('final train loss %.4f val loss %.4f', tr / #recent, val))
if o.bench then
  print(string.format('BENCH steps_per_s %.4f\nBENCH cpu_s_per_step %.4f\nBENCH final_loss %.4f\n'
    .. 'BENCH val_loss %.4f', timed / elapsed, cpu, tr / #recent, val))
end
