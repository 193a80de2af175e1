-- text_corpus.lua — what the character-level recipes (char_transformer.lua, char_lstm.lua)
-- share: their command line, the corpus (every file of Debian's fortunes package but .dat /
-- .u8, sorted by name, as bytes; the last 10% for validation), random (B, T) windows, and the
-- training loop with its timing, evaluation and printed lines. Loaded with dofile by the
-- recipes (not a module of the library). PyTorch twin: scripts/bench/text_corpus.py.

local gb = require('gpubp')

local M = {}

-- Parses `arg` into a copy of `defaults` (numbers and strings take a value; `quick` and
-- `bench` are flags); `quick(o)` shrinks the run when --quick is given.
function M.options(name, defaults, quick)
  local o = {}
  for k, v in pairs(defaults) do o[k] = v end
  o.quick, o.bench = false, false
  local i = 1
  while arg and arg[i] do
    local k = arg[i]:match('^%-%-([%w_]+)$')
    if k == 'quick' or k == 'bench' then
      o[k], i = true, i + 1
    elseif k and o[k] ~= nil and arg[i + 1] then
      o[k] = type(o[k]) == 'number' and tonumber(arg[i + 1]) or arg[i + 1]
      i = i + 2
    else
      local keys = {}
      for key in pairs(defaults) do keys[#keys + 1] = '[--' .. key .. ' X]' end
      table.sort(keys)
      error('usage: ' .. name .. ' [--quick] [--bench] ' .. table.concat(keys, ' '), 0)
    end
  end
  if o.quick then quick(o) end
  return o
end

-- The corpus of `dir`: {text, V (vocabulary size), N, n_train, batch_at(offsets, T)}.
-- batch_at gives the int64 (B, T) inputs and next-byte targets at 1-based offsets.
function M.load(name, dir)
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
    error(name .. ': no fortune files in ' .. dir .. " (install Debian's fortunes package: scripts/setup.sh)", 0)
  end
  local text = table.concat(parts)
  local seen, vocab, id = {}, {}, {}
  for c = 0, 255 do seen[c] = false end
  for k = 1, #text do seen[text:byte(k)] = true end
  for c = 0, 255 do
    if seen[c] then vocab[#vocab + 1] = c; id[c] = #vocab end
  end
  local c = { text = text, V = #vocab, N = #text, n_train = math.floor(#text * 0.9) }
  function c.batch_at(offsets, T)
    local xs, ys = {}, {}
    for b, off in ipairs(offsets) do
      local x, y = {}, {}
      local bytes = { text:byte(off, off + T) }
      for t = 1, T do x[t], y[t] = id[bytes[t]], id[bytes[t + 1]] end
      xs[b], ys[b] = x, y
    end
    return gb.tensor(xs, { dtype = 'int64' }), gb.tensor(ys, { dtype = 'int64' })
  end
  print(string.format('corpus %d bytes, vocabulary %d, train %d, val %d', c.N, c.V, c.n_train,
    c.N - c.n_train))
  return c
end

-- Trains `model` (int64 (B, T) -> logits (B*T, V)) with `opt` and cross-entropy for o.steps
-- steps of o.batch random windows of o.context bytes, gradients clipped at 1.0;
-- before_step(step) (optional) runs first in each step and returns a string for the printed
-- line (the lr). Prints `step` lines, `steps/s` (after the first 5 steps, with CPU s/step),
-- `final train loss <mean of the last 50> val loss <20 fixed batches>`, and with o.bench the
-- BENCH lines of scripts/bench/run.py.
function M.train(c, model, opt, o, before_step)
  local crit = gb.nn.CrossEntropyLoss()
  local T, B = o.context, o.batch
  local recent, t0, c0 = {}, gb.time(), os.clock()
  for step = 1, o.steps do
    if step == math.min(6, o.steps) then t0, c0 = gb.time(), os.clock() end
    local offs = {}
    for b = 1, B do offs[b] = math.random(1, c.n_train - T - 1) end
    local x, y = c.batch_at(offs, T)
    local extra = before_step and before_step(step) or ''
    opt:zero_grad()
    local loss = crit(model(x), y:view(-1))
    loss:backward()
    gb.nn.utils.clip_grad_norm(model:parameters(), 1.0)
    opt:step()
    local l = loss:item()
    recent[#recent + 1] = l
    if #recent > 50 then table.remove(recent, 1) end
    if step == 1 or step % 100 == 0 or step == o.steps then
      print(string.format('step %d loss %.4f%s', step, l, extra))
    end
  end
  local timed = o.steps - math.min(6, o.steps) + 1
  local elapsed, cpu = gb.time() - t0, (os.clock() - c0) / timed
  print(string.format('steps/s %.3f (%d steps in %.1f s; CPU time %.3f s/step)', timed / elapsed,
    timed, elapsed, cpu))
  model:eval()
  local val = gb.no_grad(function()
    local s, n = 0, 20
    local span = c.N - c.n_train - T - 1
    for k = 0, n - 1 do
      local offs = {}
      for b = 1, B do offs[b] = c.n_train + 1 + ((k * B + b - 1) * 7919) % span end
      local x, y = c.batch_at(offs, T)
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
end

return M
