-- optim_spec.lua — gb.optim: one or two update steps of every optimizer against the
-- documented formulas computed here in double precision, state_dict round trips, the
-- flatten helper used with gb.save, and the schedulers' lr sequences.
-- Run: build/gpubp /usr/bin/busted tests/lua/optim_spec.lua

local gb = require('gpubp')
local optim = gb.optim

local function flat(v, out)
  out = out or {}
  if type(v) == 'table' then for _, e in ipairs(v) do flat(e, out) end
  else out[#out + 1] = v end
  return out
end

local function assert_close(actual, expected, tol)
  tol = tol or 1e-6
  local a = flat(gb.is_tensor(actual) and actual:totable() or actual)
  local e = flat(expected)
  assert.are.equal(#e, #a)
  for i = 1, #e do
    if math.abs(a[i] - e[i]) > tol * math.max(1, math.abs(e[i])) then
      error(string.format('element %d: got %.9g, expected %.9g', i, a[i], e[i]), 2)
    end
  end
end

local P0 = { 1.0, -2.0, 0.5 }
local G = { 0.3, -0.1, 2.0 }   -- the gradient every step produces

-- A parameter whose loss sum(p * G) has gradient G.
local function setup()
  local p = gb.tensor(P0):requires_grad_(true)
  local g = gb.tensor(G)
  local function step(opt)
    opt:zero_grad()
    local loss = (p * g):sum()
    loss:backward()
    opt:step()
  end
  return p, step
end

local function map3(f)
  local out = {}
  for i = 1, 3 do out[i] = f(P0[i], G[i], i) end
  return out
end

describe('optim.SGD', function()
  it('plain step: p - lr g', function()
    local p, step = setup()
    local opt = optim.SGD({ p }, { lr = 0.1 })
    step(opt)
    assert_close(p, map3(function(p0, g) return p0 - 0.1 * g end))
  end)

  it('momentum, dampening and weight decay over two steps', function()
    local p, step = setup()
    local lr, mu, damp, wd = 0.1, 0.9, 0.2, 0.01
    local opt = optim.SGD({ p }, { lr = lr, momentum = mu, dampening = damp, weight_decay = wd })
    step(opt)
    step(opt)
    assert_close(p, map3(function(p0, g)
      local d1 = g + wd * p0
      local buf = d1                      -- first step: buffer = gradient, no dampening
      local p1 = p0 - lr * buf
      local d2 = g + wd * p1
      buf = mu * buf + (1 - damp) * d2
      return p1 - lr * buf
    end))
  end)

  it('nesterov', function()
    local p, step = setup()
    local opt = optim.SGD({ p }, { lr = 0.1, momentum = 0.9, nesterov = true })
    step(opt)
    step(opt)
    assert_close(p, map3(function(p0, g)
      local p1 = p0 - 0.1 * (g + 0.9 * g)
      local buf = 0.9 * g + g
      return p1 - 0.1 * (g + 0.9 * buf)
    end))
  end)

  it('rejects bad options with the class name', function()
    local p = gb.zeros(2):requires_grad_(true)
    assert.has_error(function() optim.SGD({ p }, { lr = -1 }) end,
      'SGD: lr must be a number >= 0, got -1')
    assert.has_error(function() optim.SGD({ p }, { lr = 0.1, momentun = 0.9 }) end,
      "SGD: unknown option 'momentun'")
    assert.has_error(function() optim.SGD({ p }, { lr = 0.1, nesterov = true }) end,
      'SGD: nesterov momentum requires a momentum > 0 and zero dampening')
  end)
end)

describe('optim.Adam', function()
  local function adam_ref(steps, lr, b1, b2, eps, wd, decoupled, amsgrad)
    return map3(function(p, g0)
      local m, v, vmax = 0, 0, 0
      for t = 1, steps do
        local g = g0
        if decoupled then p = p * (1 - lr * wd) elseif wd ~= 0 then g = g + wd * p end
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = math.max(vmax, v)
        local vh = amsgrad and vmax or v
        p = p - lr / (1 - b1 ^ t) * m / (math.sqrt(vh) / math.sqrt(1 - b2 ^ t) + eps)
      end
      return p
    end)
  end

  it('two steps with the defaults', function()
    local p, step = setup()
    local opt = optim.Adam({ p }, { lr = 0.01 })
    step(opt)
    assert_close(p, adam_ref(1, 0.01, 0.9, 0.999, 1e-8, 0))
    step(opt)
    assert_close(p, adam_ref(2, 0.01, 0.9, 0.999, 1e-8, 0))
    assert.are.equal(2, opt.state[p].step)
  end)

  it('L2 weight decay, custom betas and amsgrad', function()
    local p, step = setup()
    local opt = optim.Adam({ p }, { lr = 0.05, betas = { 0.8, 0.9 }, weight_decay = 0.1,
                                    amsgrad = true })
    for _ = 1, 3 do step(opt) end
    assert_close(p, adam_ref(3, 0.05, 0.8, 0.9, 1e-8, 0.1, false, true))
  end)
end)

describe('optim.AdamW', function()
  it('decays weights decoupled from the gradient (default 1e-2)', function()
    local p, step = setup()
    local opt = optim.AdamW({ p }, { lr = 0.01 })
    assert.are.equal(1e-2, opt.param_groups[1].weight_decay)
    step(opt)
    step(opt)
    assert_close(p, map3(function(p0, g)
      local m, v, q = 0, 0, p0
      for t = 1, 2 do
        q = q * (1 - 0.01 * 0.01)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        q = q - 0.01 / (1 - 0.9 ^ t) * m / (math.sqrt(v) / math.sqrt(1 - 0.999 ^ t) + 1e-8)
      end
      return q
    end))
  end)
end)

describe('optim.RMSprop', function()
  it('plain step: p - lr g / (sqrt((1 - alpha) g^2) + eps)', function()
    local p, step = setup()
    local opt = optim.RMSprop({ p }, { lr = 0.01 })
    step(opt)
    assert_close(p, map3(function(p0, g) return p0 - 0.01 * g / (math.sqrt(0.01 * g * g) + 1e-8) end))
  end)

  it('centered with momentum over two steps', function()
    local p, step = setup()
    local lr, a, mu, eps = 0.01, 0.9, 0.5, 1e-8
    local opt = optim.RMSprop({ p }, { lr = lr, alpha = a, momentum = mu, centered = true })
    step(opt)
    step(opt)
    assert_close(p, map3(function(q, g)
      local sq, ga, buf = 0, 0, 0
      for _ = 1, 2 do
        sq = a * sq + (1 - a) * g * g
        ga = a * ga + (1 - a) * g
        local avg = math.sqrt(sq - ga * ga) + eps
        buf = mu * buf + g / avg
        q = q - lr * buf
      end
      return q
    end), 1e-5)
  end)
end)

describe('Optimizer bookkeeping', function()
  it('zero_grad sets gradients to nil', function()
    local p, step = setup()
    local opt = optim.SGD({ p }, { lr = 0.1 })
    step(opt)
    assert.is_not_nil(p.grad)
    opt:zero_grad()
    assert.is_nil(p.grad)
  end)

  it('accepts a Module and parameter groups with their own lr', function()
    local l = gb.nn.Linear(2, 2)
    local opt = optim.SGD(l, { lr = 0.1 })
    assert.are.equal(2, #opt.param_groups[1].params)
    opt = optim.SGD({ { params = { l.weight } }, { params = { l.bias }, lr = 0.5 } }, { lr = 0.1 })
    assert.are.equal(0.1, opt.param_groups[1].lr)
    assert.are.equal(0.5, opt.param_groups[2].lr)
  end)

  -- PyTorch: SGD(params, lr=0.1).defaults['lr'] == 0.1 (the class defaults, overridden by the
  -- constructor's options; a group's own lr does not enter them)
  it('defaults are the class defaults overridden by the options', function()
    local l = gb.nn.Linear(2, 2)
    local opt = optim.SGD({ { params = { l.weight }, lr = 0.5 }, { params = { l.bias } } },
      { lr = 0.1, momentum = 0.9 })
    assert.are.same({ 0.1, 0.9, 0, 0, false }, { opt.defaults.lr, opt.defaults.momentum,
      opt.defaults.dampening, opt.defaults.weight_decay, opt.defaults.nesterov })
    local adam = optim.Adam(l)
    assert.are.same({ 1e-3, 0.9, 0.999 }, { adam.defaults.lr, adam.defaults.betas[1],
      adam.defaults.betas[2] })
    assert.are.equal(0.2, optim.AdamW(l, { lr = 0.2 }).defaults.lr)
  end)

  it('state_dict round trip continues identically', function()
    local p1, step1 = setup()
    local p2, step2 = setup()
    local o1 = optim.Adam({ p1 }, { lr = 0.01 })
    step1(o1)
    local o2 = optim.Adam({ p2 }, { lr = 0.01 })
    gb.no_grad(function() p2:copy_(p1) end)
    o2:load_state_dict(o1:state_dict())
    step1(o1)
    step2(o2)
    assert_close(p2, flat(p1:totable()), 0)
    assert.are.equal(2, o2.state[p2].step)
  end)

  it('flattens a state dict to string keys of tensors and back, exactly', function()
    local p, step = setup()
    local opt = optim.Adam({ p }, { lr = 0.1, betas = { 0.8, 0.95 }, amsgrad = true })
    step(opt)
    local sd = opt:state_dict()
    local fl = optim.flatten_state_dict(sd)
    for k, v in pairs(fl) do
      assert.are.equal('string', type(k))
      assert.is_true(gb.is_tensor(v))
    end
    local back = optim.unflatten_state_dict(fl)
    assert.are.equal(0.1, back.param_groups[1].lr)
    assert.are.equal(0.95, back.param_groups[1].betas[2])
    assert.are.equal(true, back.param_groups[1].amsgrad)
    assert.are.same({ 1 }, back.param_groups[1].params)
    assert.are.equal(1, back.state[1].step)
    assert.are.equal('integer', math.type(back.state[1].step))
    local odd = optim.unflatten_state_dict(optim.flatten_state_dict(
      { a = { big = math.maxinteger, neg = -7, tiny = 5e-324, e = {} } }, 'x.'), 'x.')
    assert.are.same({ a = { big = math.maxinteger, neg = -7, tiny = 5e-324, e = {} } }, odd)
    assert_close(back.state[1].exp_avg, flat(sd.state[1].exp_avg:totable()), 0)
  end)
end)

describe('fused and op-by-op updates', function()
  -- The core's fused rows (gb._sgd_step, gb._adam_step) and the Lua fallback agree.
  local function run(class, opts, fused)
    local saved = { sgd = gb._sgd_step, adam = gb._adam_step }
    if not fused then gb._sgd_step, gb._adam_step = nil, nil end
    local ok, result = pcall(function()
      local p, step = setup()
      local opt = optim[class]({ p }, opts)
      for _ = 1, 3 do step(opt) end
      return flat(p:totable())
    end)
    gb._sgd_step, gb._adam_step = saved.sgd, saved.adam
    assert(ok, result)
    return result
  end
  local cases = {
    { 'SGD', { lr = 0.1, momentum = 0.9, weight_decay = 0.01 } },
    { 'SGD', { lr = 0.1, momentum = 0.9, nesterov = true } },
    { 'SGD', { lr = 0.1 } },
    { 'Adam', { lr = 0.01, weight_decay = 0.1 } },
    { 'AdamW', { lr = 0.01 } },
  }
  for i, c in ipairs(cases) do
    it(c[1] .. ' case ' .. i, function()
      assert_close(run(c[1], c[2], true), run(c[1], c[2], false), 1e-6)
    end)
  end
end)

describe('fused Adam row, element by element', function()
  -- gb_cpu_adam_step runs 16 or 8 lanes wide where the CPU can (a clone per instruction set)
  -- and must give, on every element of a long vector (the wide loop and its tail), the bits
  -- of its documented float32 expressions. Each is computed here in double and rounded to
  -- float32 after every operation (for + - * / and sqrt that equals the float32 result).
  local function f32(x) return (string.unpack('f', string.pack('f', x))) end
  local N = 1003 -- 62 AVX-512 vectors and a tail of 11
  local function values(seed, scale)
    local t = {}
    for i = 1, N do t[i] = f32(scale * math.sin(seed * i + 0.5 * i * i / N)) end
    return t
  end
  local function expected(p, g, m, v, lr, b1, b2, eps, wd, steps, decoupled)
    lr, b1, b2, eps, wd = f32(lr), f32(b1), f32(b2), f32(eps), f32(wd)
    local l2 = decoupled and 0 or wd
    local shrink = decoupled and f32(1 - f32(lr * wd)) or 1
    for t = 1, steps do
      local step_size = f32(lr / (1 - b1 ^ t))
      local bc2 = f32(math.sqrt(1 - b2 ^ t))
      for i = 1, N do
        local d = f32(g[i] + f32(l2 * p[i]))
        m[i] = f32(f32(m[i] * b1) + f32(f32(1 - b1) * d))
        v[i] = f32(f32(v[i] * b2) + f32(f32(f32(1 - b2) * d) * d))
        local denom = f32(f32(f32(math.sqrt(v[i])) / bc2) + eps)
        p[i] = f32(f32(p[i] * shrink) - f32(step_size * f32(m[i] / denom)))
      end
    end
    return p, m, v
  end
  local cases = {
    { 'Adam', { lr = 0.01, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0.1 }, false },
    { 'Adam', { lr = 0.003, betas = { 0.8, 0.99 }, eps = 1e-3 }, false },
    { 'AdamW', { lr = 0.01, betas = { 0.9, 0.999 }, eps = 1e-8, weight_decay = 0.05 }, true },
  }
  for i, c in ipairs(cases) do
    it(c[1] .. ' case ' .. i .. ': p, exp_avg and exp_avg_sq exactly', function()
      local p0, g0 = values(1.3, 2), values(0.7, 0.5)
      local p = gb.tensor(p0):requires_grad_(true)
      local opt = optim[c[1]]({ p }, c[2])
      for _ = 1, 3 do
        p.grad = gb.tensor(g0)
        opt:step()
      end
      local o = c[2]
      local zeros = {}
      for k = 1, N do zeros[k] = 0 end
      local ep, em, ev = expected(p0, g0, zeros, { table.unpack(zeros) }, o.lr, o.betas[1],
        o.betas[2], o.eps, o.weight_decay or 0, 3, c[3])
      local st = opt.state[p]
      local got = { p = p:totable(), m = st.exp_avg:totable(), v = st.exp_avg_sq:totable() }
      for name, want in pairs({ p = ep, m = em, v = ev }) do
        for k = 1, N do
          if got[name][k] ~= want[k] then
            error(string.format('%s[%d]: got %.9g, expected %.9g', name, k, got[name][k], want[k]))
          end
        end
      end
    end)
  end
end)

describe('fused SGD row, element by element', function()
  -- As for Adam above: gb_cpu_sgd_step's wide loops give the bits of its float32 expressions
  -- on a long vector, with and without momentum, nesterov, dampening and weight decay.
  local function f32(x) return (string.unpack('f', string.pack('f', x))) end
  local N = 1003
  local function values(seed, scale)
    local t = {}
    for i = 1, N do t[i] = f32(scale * math.cos(seed * i + 0.25 * i * i / N)) end
    return t
  end
  local function expected(p, g, o, steps)
    local lr, mom = f32(o.lr), f32(o.momentum or 0)
    local damp, wd = f32(o.dampening or 0), f32(o.weight_decay or 0)
    local buf = {}
    for t = 1, steps do
      for i = 1, N do
        local d = f32(g[i] + f32(wd * p[i]))
        if mom == 0 then
          p[i] = f32(p[i] - f32(lr * d))
        else
          buf[i] = t == 1 and d or f32(f32(mom * buf[i]) + f32(f32(1 - damp) * d))
          local step = o.nesterov and f32(d + f32(mom * buf[i])) or buf[i]
          p[i] = f32(p[i] - f32(lr * step))
        end
      end
    end
    return p
  end
  local cases = {
    { lr = 0.1 },
    { lr = 0.05, weight_decay = 0.01 },
    { lr = 0.1, momentum = 0.9, dampening = 0.1, weight_decay = 0.01 },
    { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.02 },
  }
  for i, o in ipairs(cases) do
    it('case ' .. i .. ': p exactly after 3 steps', function()
      local p0, g0 = values(0.9, 3), values(1.7, 0.5)
      local p = gb.tensor(p0):requires_grad_(true)
      local opt = optim.SGD({ p }, o)
      for _ = 1, 3 do
        p.grad = gb.tensor(g0)
        opt:step()
      end
      local got, want = p:totable(), expected(p0, g0, o, 3)
      for k = 1, N do
        if got[k] ~= want[k] then
          error(string.format('p[%d]: got %.9g, expected %.9g', k, got[k], want[k]))
        end
      end
    end)
  end
end)

describe('schedulers', function()
  local function lrs(make, n)
    local p = gb.zeros(1):requires_grad_(true)
    local opt = optim.SGD({ p }, { lr = 1 })
    local s = make(opt)
    local out = { s:get_last_lr()[1] }
    for _ = 2, n do
      s:step()
      out[#out + 1] = opt.param_groups[1].lr
    end
    return out
  end

  it('StepLR', function()
    assert_close(lrs(function(o) return optim.StepLR(o, 2, 0.5) end, 6),
      { 1, 1, 0.5, 0.5, 0.25, 0.25 }, 1e-12)
    assert_close(lrs(function(o) return optim.StepLR(o, 3) end, 4), { 1, 1, 1, 0.1 }, 1e-12)
  end)

  it('ExponentialLR', function()
    assert_close(lrs(function(o) return optim.ExponentialLR(o, 0.9) end, 4),
      { 1, 0.9, 0.81, 0.729 }, 1e-12)
  end)

  it('CosineAnnealingLR', function()
    local c = math.cos
    assert_close(lrs(function(o) return optim.CosineAnnealingLR(o, 4, 0.1) end, 5),
      { 1, 0.1 + 0.9 * (1 + c(math.pi / 4)) / 2, 0.55, 0.1 + 0.9 * (1 + c(3 * math.pi / 4)) / 2,
        0.1 }, 1e-12)
  end)

  it('state_dict restores the position', function()
    local p = gb.zeros(1):requires_grad_(true)
    local opt = optim.SGD({ p }, { lr = 1 })
    local s = optim.StepLR(opt, 1, 0.5)
    s:step(); s:step()
    local opt2 = optim.SGD({ p }, { lr = 1 })
    local s2 = optim.StepLR(opt2, 1, 0.5)
    s2:load_state_dict(s:state_dict())
    assert.are.equal(0.25, opt2.param_groups[1].lr)
    s2:step()
    assert.are.equal(0.125, s2:get_last_lr()[1])
  end)
end)
