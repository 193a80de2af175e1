-- optim/lr_find.lua — gb.optim.lr_find: the learning-rate range test (Smith). Trains with an
-- lr growing exponentially, stops once the loss's running average diverges, suggests an lr
-- with a valley rule on the smoothed curve, plots it if asked, and puts the model, the
-- optimizer and the RNG back exactly as they were.

local check = require('gpubp.utils.check')
local options = require('gpubp.options')
local svg = require('gpubp.utils.svg')
local gb = require('gpubp.class').gb

local OPTIONS = {
  start_lr = 1e-7, end_lr = 10, steps = 100, optimizer = check.NONE, smooth = 0.98,
  diverge = 4, plot = check.NONE, quiet = true, skip_start = 0, file = check.NONE, valley = 0.25,
}

-- Centered moving average over 2k+1 points: no lag, unlike the running average that
-- decides when to stop, so the curve's features stay at the lr that caused them.
local function centered(raw, k)
  local out, n = {}, #raw
  for i = 1, n do
    local sum, c = 0, 0
    for j = math.max(1, i - k), math.min(n, i + k) do
      if raw[j] == raw[j] then sum, c = sum + raw[j], c + 1 end
    end
    out[i] = c > 0 and sum / c or 0 / 0
  end
  return out
end

-- The valley rule on the smoothed curve s[first..last]: the valley is the stretch around
-- the minimum where the loss stays within `depth` of the way from the minimum back up to
-- the starting loss; the suggestion is its centre on the log-lr axis. Unlike the steepest
-- slope, it depends on loss levels, not on local wiggles, the seed or the sweep's range.
local function valley(lrs, s, first, last, depth)
  local im = first
  for i = first, last do
    if s[i] < s[im] then im = i end
  end
  local level = s[im] + depth * (s[first] - s[im])
  local i, j = im, im
  while i > first and s[i - 1] <= level do i = i - 1 end
  while j < last and s[j + 1] <= level do j = j + 1 end
  return math.sqrt(lrs[i] * lrs[j]), i, j, im
end

local function clone_grads(params)
  local g = {}
  for i, p in ipairs(params) do g[i] = p.grad and p.grad:clone() or false end
  return g
end

-- Everything lr_find changes: parameters and buffers, gradients, training flags, the
-- optimizer's state and groups, the RNG.
local function snapshot(model, opt)
  local s = { params = model:parameters(), modes = {} }
  s.model = {}
  gb.no_grad(function()
    for k, v in pairs(model:state_dict()) do s.model[k] = v:clone() end
  end)
  s.grads = clone_grads(s.params)
  for _, m in ipairs(model:modules()) do s.modes[m] = rawget(m, 'training') end
  s.opt = opt:state_dict()
  s.rng = gb.get_rng_state()
  return s
end

local function restore(model, opt, s)
  model:load_state_dict(s.model)
  for i, p in ipairs(s.params) do p.grad = s.grads[i] or nil end
  for m, t in pairs(s.modes) do rawset(m, 'training', t) end
  opt.state = {}
  opt:load_state_dict(s.opt)
  gb.set_rng_state(s.rng)
end

-- lr_find(model, loss_fn, loader [, {start_lr=1e-7, end_lr=10, steps=100, optimizer=
-- (default SGD on model), smooth=0.98, diverge=4, plot='file.svg', quiet=true,
-- skip_start=0, valley=0.25}]) -> {lrs=, losses= (smoothed, centered), raw_losses=,
-- ema_losses=, suggestion=, valley = {lo, hi}, min_lr=}
-- loss_fn(output, y) is a criterion (nn.CrossEntropyLoss()...); loader yields (x, y) batches
-- (a DataLoader, or a function returning an iterator) and is cycled when it runs out.
local function lr_find(model, loss_fn, loader, opts)
  if type(model) ~= 'table' or type(model.parameters) ~= 'function' then
    check.raise('lr_find: expected a Module, got ' .. type(model))
  end
  if loss_fn == nil then check.raise('lr_find: expected a loss function (a criterion)') end
  if loader == nil then check.raise('lr_find: expected a data loader') end
  local o = check.options('lr_find', opts, OPTIONS)
  if o.start_lr <= 0 or o.end_lr <= o.start_lr then
    check.raise(string.format('lr_find: need 0 < start_lr < end_lr, got %g and %g', o.start_lr, o.end_lr))
  end
  local steps = options.integer_at_least(o.steps, 2)
  if not steps then
    check.raise('lr_find: steps must be an integer >= 2, got ' .. tostring(o.steps))
  end
  o.steps = steps
  if o.smooth < 0 or o.smooth >= 1 then check.raise('lr_find: smooth must be in [0, 1)') end
  local opt = o.optimizer or gb.optim.SGD(model:parameters(), { lr = o.start_lr })
  local saved = snapshot(model, opt)
  local ok, res = pcall(function()
    local ratio = (o.end_lr / o.start_lr) ^ (1 / (o.steps - 1))
    local lrs, losses, raw = {}, {}, {}
    local avg, best = 0, math.huge
    local iter
    local function batch()
      for _ = 1, 2 do
        if not iter then iter = loader() end
        local x, y = iter()
        if x ~= nil then return x, y end
        iter = nil
      end
      error('lr_find: the loader yields no batches', 0)
    end
    model:train()
    for i = 1, o.steps do
      local lr = o.start_lr * ratio ^ (i - 1)
      for _, g in ipairs(opt.param_groups) do g.lr = lr end
      local x, y = batch()
      opt:zero_grad()
      local loss = loss_fn(model(x), y)
      loss:backward()
      opt:step()
      local l = loss:item()
      avg = o.smooth * avg + (1 - o.smooth) * l
      local sm = avg / (1 - o.smooth ^ i)
      lrs[#lrs + 1], raw[#raw + 1], losses[#losses + 1] = lr, l, sm
      if not o.quiet then
        (o.file or io.stdout):write(string.format('lr_find: step %d lr %.3g loss %.4f\n', i, lr, sm))
      end
      if sm < best then best = sm end
      if sm ~= sm or (i > 1 and sm > o.diverge * best) then break end
    end
    return { lrs = lrs, losses = losses, raw_losses = raw }
  end)
  restore(model, opt, saved)
  if not ok then check.raise(tostring(res)) end
  local n = #res.raw_losses
  res.ema_losses = res.losses
  res.losses = centered(res.raw_losses, math.max(1, math.floor(0.03 * o.steps + 0.5)))
  -- the diverged tail (beyond the point where the running average blew up) is left out
  local last = n
  local best = math.huge
  for i = 1, n do best = math.min(best, res.ema_losses[i]) end
  while last > 1 and not (res.ema_losses[last] <= o.diverge * best) do last = last - 1 end
  local first = math.min(1 + o.skip_start, last)
  local sug, i, j, im = valley(res.lrs, res.losses, first, last, o.valley)
  res.suggestion, res.valley = sug, { res.lrs[i], res.lrs[j] }
  res.min_lr = res.lrs[im]
  if o.plot then
    local panel = { title = 'lr range test', xlabel = 'learning rate (log scale)', ylabel = 'loss',
      xlog = true, legend = true, series = {
        { name = 'loss', x = res.lrs, y = res.raw_losses, color = '#b0c4de' },
        { name = 'smoothed loss', x = res.lrs, y = res.losses },
      }, marks = { { x = res.suggestion, label = string.format('suggested lr %.2g', res.suggestion) },
        { x = res.valley[1], label = '' }, { x = res.valley[2], label = '' } } }
    -- the y range of the useful part (start to minimum); the divergence leaves at the top
    local hi, lo = 0, math.huge
    for i = first, im do hi = math.max(hi, res.losses[i]) end
    for i = first, last do lo = math.min(lo, res.raw_losses[i], res.losses[i]) end
    panel.ymax, panel.ymin = hi * 1.25, math.max(0, lo - 0.1 * (hi - lo))
    svg.write(o.plot, svg.chart({ panel }, { panel_width = 620, panel_height = 340 }), 'lr_find')
  end
  return res
end

return lr_find
