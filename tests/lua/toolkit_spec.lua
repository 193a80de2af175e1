-- toolkit_spec.lua — the trainer's toolkit: progress (through a pipe; the terminal case is
-- tests/repl/progress.pty), Logger files and charts, tensor and module hooks, norm,
-- grad_norms, clip_grad_value, summary, grid_search, and on the MNIST subset: GradMonitor
-- on deep sigmoid vs ReLU+BatchNorm MLPs, and lr_find against a grid search.
-- Run: build/gpubp /usr/bin/busted tests/lua/toolkit_spec.lua

local gb = require('gpubp')
local nn, optim, data, utils = gb.nn, gb.optim, gb.data, gb.utils
local support = dofile('tests/lua/support.lua')

local function close(a, b, tol)
  return math.abs(a - b) <= (tol or 1e-6) * math.max(1, math.abs(b))
end

local gpubp_binary = support.gpubp_binary

local function read(path)
  local f = assert(io.open(path, 'r'))
  local s = f:read('a')
  f:close()
  return s
end

local function lines(s)
  local out = {}
  for l in s:gmatch('([^\n]*)\n') do out[#out + 1] = l end
  return out
end

describe('gb.utils.progress', function()
  it('prints plain lines at each tenth (here quarter) through a pipe, then a final line', function()
    local script = os.tmpname()
    local f = assert(io.open(script, 'w'))
    f:write([[
local p = gb.utils.progress(20, {desc = 'train', lines = 4})
for i in p do p:set({loss = i / 10}) end
print('end')
]])
    f:close()
    local pipe = assert(io.popen(gpubp_binary() .. ' ' .. script .. ' 2>&1 | cat'))
    local out = pipe:read('a')
    pipe:close()
    os.remove(script)
    assert.is_nil(out:find('[\r\27]'), 'no carriage return or escape on a pipe: ' .. out)
    local ls = lines(out)
    assert.are.equal(5, #ls, out)
    local counts = { '5/20 [ 25%]', '10/20 [ 50%]', '15/20 [ 75%]', '20/20 [100%]' }
    local losses = { '0.5000', '1.0000', '1.5000', '2.0000' }
    for k = 1, 4 do
      assert.is_truthy(ls[k]:find('train  ' .. counts[k], 1, true), ls[k])
      assert.is_truthy(ls[k]:find('loss ' .. losses[k], 1, true), ls[k])
      assert.is_truthy(ls[k]:find('%d+%.%d it/s'), ls[k])
    end
    assert.is_truthy(ls[1]:find('ETA '), ls[1])
    assert.is_nil(ls[4]:find('ETA'), 'the final line has the elapsed time, not an ETA')
    assert.are.equal('end', ls[5])
  end)

  it('iterates lists, iterators and DataLoaders, counting their items', function()
    local tmp = io.tmpfile()
    local got = {}
    for v in utils.progress({ 'a', 'b', 'c' }, { file = tmp }) do got[#got + 1] = v end
    assert.are.same({ 'a', 'b', 'c' }, got)
    local ds = { x = gb.arange(1, 11):reshape(10, 1), y = gb.arange(1, 11), n = 10 }
    local loader = data.DataLoader(ds, { batch_size = 3 })
    local p = utils.progress(loader, { file = tmp, desc = 'dl' })
    assert.are.equal(4, p.total)
    local n = 0
    for x, y in p do n = n + x:size(1); assert.is_true(gb.is_tensor(y)) end
    assert.are.equal(10, n)
    assert.are.equal(4, p.n)
    assert.is_true(p.closed)
    tmp:close()
  end)

  it('prints nothing when quiet, and rejects unknown options', function()
    local tmp = io.tmpfile()
    local p = utils.progress(5, { quiet = true, file = tmp })
    for _ in p do end
    tmp:seek('set')
    assert.are.equal('', tmp:read('a'))
    local ok, e = pcall(utils.progress, 5, { quite = true })
    assert.is_false(ok)
    assert.matches("toolkit_spec.lua:%d+: progress: unknown option 'quite'", e)
  end)

  it('shows the GradMonitor state', function()
    local net = nn.Linear(2, 1)
    local mon = nn.utils.GradMonitor(net, { warn = false })
    local p = utils.progress(1, { monitor = mon, quiet = true })
    assert.is_truthy(p:_text():find('grad %-$'))
    net(gb.ones(1, 2)):sum():backward()
    mon:check()
    assert.is_truthy(p:_text():find('grad ok$'))
  end)
end)

describe('gb.utils.Logger', function()
  it('writes CSV with a header widened by new scalars, and JSONL', function()
    local csv = os.tmpname()
    local log = utils.Logger(csv)
    log:log({ loss = 2.5, lr = 0.1 })
    log:log({ loss = gb.tensor(1.25), lr = 0.05 })
    log:log_epoch({ acc = 0.5 })
    log:close()
    assert.are.equal('kind,step,epoch,loss,lr,acc\nstep,1,1,2.5,0.1,\nstep,2,1,1.25,0.05,\n'
      .. 'epoch,2,1,,,0.5\n', read(csv))
    os.remove(csv)
    local jl = os.tmpname() .. '.jsonl'
    log = utils.Logger(jl)
    log:log({ loss = 0.5 }, 10)
    log:log({ loss = 0 / 0 })
    log:close()
    assert.are.equal('{"kind":"step","step":10,"epoch":1,"loss":0.5}\n'
      .. '{"kind":"step","step":11,"epoch":1,"loss":null}\n', read(jl))
    os.remove(jl)
    local xs, ys = log:series('loss')
    assert.are.same({ 10, 11 }, xs)
    assert.are.equal(0.5, ys[1])
  end)

  it('plots panels with ticks, a legend and a log-scale lr axis', function()
    local log = utils.Logger()
    for s = 1, 30 do
      log:log({ loss = 2 / s, val_loss = 2.2 / s, lr = 0.1 * 0.8 ^ s, grad_norm = s })
    end
    local svg = os.tmpname() .. '.svg'
    log:plot(svg, { title = 'run' })
    local text = read(svg)
    os.remove(svg)
    assert.is_truthy(text:find('^<svg xmlns="http://www.w3.org/2000/svg"'))
    assert.is_truthy(text:find('</svg>\n$'))
    -- panels named by kind, both loss series in one panel with a legend entry each
    for _, s in ipairs({ '>loss<', '>learning rate<', '>gradient norm<', '>val_loss<', '>run<' }) do
      assert.is_truthy(text:find(s, 1, true), s)
    end
    -- lr spans 0.1 * 0.8^30 = 1.2e-4 .. 0.08: decades 1e-4 .. 1e-1 on its axis
    for _, s in ipairs({ '>1e-4<', '>1e-3<', '>1e-2<', '>1e-1<' }) do
      assert.is_truthy(text:find(s, 1, true), s)
    end
    local _, polylines = text:gsub('<polyline', '')
    assert.are.equal(4, polylines)
    assert.matches("Logger:plot: unknown option 'panel'", select(2, pcall(log.plot, log, svg, { panel = {} })))
  end)
end)

describe('tensor and module hooks', function()
  it('register_hook sees and replaces gradients inside backward; retain_grad keeps them', function()
    local x = gb.tensor({ 1, 2, 3 }):requires_grad_(true)
    local y = x * x
    y:retain_grad()
    local seen_y
    local h = y:register_hook(function(g) seen_y = g:totable(); return g * 10 end)
    local z = (y * gb.tensor({ 1, 2, 3 })):sum()
    z:backward()
    assert.are.same({ 1, 2, 3 }, seen_y)
    -- dz/dx = 2x * (replaced dy = 10 * (1,2,3)) ; y.grad holds the gradient before the replacement
    assert.are.same({ 20, 80, 180 }, x.grad:totable())
    assert.are.same({ 1, 2, 3 }, y.grad:totable())
    h.remove()
    local w = gb.tensor({ 2.0 }):requires_grad_(true)
    w:register_hook(function(g) return g + 1 end)
    ;(w * 3):sum():backward()
    assert.are.same({ 4 }, w.grad:totable())
  end)

  it('a leaf used by several ops: its hook runs once, with the summed gradient', function()
    local w = gb.tensor({ 2.0, -1.0 }):requires_grad_(true)
    local calls, seen = 0, nil
    w:register_hook(function(g) calls = calls + 1; seen = g:totable() end)
    ;((w * 3):sum() + (w * w):sum() + w:sum()):backward()
    assert.are.equal(1, calls)
    assert.are.same({ 3 + 4 + 1, 3 - 2 + 1 }, seen)       -- 3 + 2w + 1
    assert.are.same(seen, w.grad:totable())
    ;(w * 2):sum():backward()                               -- a second backward: once more, accumulating
    assert.are.equal(2, calls)
    assert.are.same({ 2, 2 }, seen)
    assert.are.same({ 10, 4 }, w.grad:totable())
  end)

  it('a hook returning gb._grad_taken keeps the gradient itself (what DDP uses)', function()
    local w = gb.tensor({ 2.0, -1.0 }):requires_grad_(true)
    local v = gb.tensor({ 3.0, 4.0 }):requires_grad_(true)
    local kept
    w:register_hook(function(g) kept = g:clone(); return gb._grad_taken end)
    ;((w * 3):sum() + (v * w):sum()):backward()
    assert.is_nil(w.grad)                                   -- nothing was added to .grad
    assert.are.same({ 6, 7 }, kept:totable())               -- 3 + v
    assert.are.same({ 2, -1 }, v.grad:totable())            -- the other leaf as usual
    -- on a non-leaf, nothing flows on past it: y = 2w feeds z only through the hooked y
    local a = gb.tensor({ 1.0 }):requires_grad_(true)
    local y = a * 2
    y:register_hook(function() return gb._grad_taken end)
    ;(y * 5 + a):sum():backward()
    assert.are.same({ 1 }, a.grad:totable())                -- only the direct term
  end)

  it('names the failure of a hook and refuses a wrong shape', function()
    local w = gb.tensor({ 1.0, 2.0 }):requires_grad_(true)
    w:register_hook(function() return gb.zeros(3) end)
    local ok, e = pcall(function() (w * 2):sum():backward() end)
    assert.is_false(ok)
    assert.matches('backward: a gradient hook returned a %(3%) float32 tensor for a %(2%) float32 gradient', e)
    local c = gb.tensor({ 1.0 })
    assert.matches('register_hook: the tensor does not require grad',
      select(2, pcall(c.register_hook, c, function() end)))
  end)

  it('module forward hooks see inputs and outputs and may replace the output', function()
    local fc = nn.Linear(3, 2)
    local calls = 0
    local h = fc:register_forward_hook(function(m, inputs, out)
      calls = calls + 1
      assert.are.equal(fc, m)
      assert.are.same({ 4, 3 }, inputs[1].shape)
      return out * 0
    end)
    local y = fc(gb.ones(4, 3))
    assert.are.equal(1, calls)
    assert.are.equal(0, y:abs():sum():item())
    h.remove()
    assert.is_nil(rawget(fc, '_forward_hooks'))
    assert.is_true(fc(gb.ones(4, 3)):abs():sum():item() > 0)
  end)

  it('full backward hooks get grad_input and grad_output', function()
    gb.manual_seed(3)
    local fc = nn.Linear(3, 2)
    local x = gb.randn(4, 3):requires_grad_(true)
    local gi, go
    fc:register_full_backward_hook(function(_, grad_input, grad_output)
      gi, go = grad_input[1]:clone(), grad_output[1]:clone()
    end)
    local w = gb.randn(4, 2)
    ;(fc(x) * w):sum():backward()
    assert.are.same(w:totable(), go:totable())
    local want = w:matmul(fc.weight:detach()):totable()
    local got = gi:totable()
    for i = 1, 4 do for j = 1, 3 do assert.is_true(close(got[i][j], want[i][j], 1e-5)) end end
    assert.are.same(x.grad:totable(), gi:totable())
  end)
end)

describe('norms, clipping and summary', function()
  it('norm matches the definitions', function()
    local t = gb.tensor({ { 3, -4 }, { 1, 0 } })
    assert.is_true(close(t:norm():item(), math.sqrt(26)))
    assert.are.same({ 5, 1 }, t:norm(2, 2):totable())
    assert.are.equal(8, t:norm(1):item())
    assert.are.equal(4, t:norm(math.huge):item())
    assert.is_true(close(t:norm(3):item(), (27 + 64 + 1) ^ (1 / 3), 1e-6))
  end)

  it('grad_norms and clip_grad_value', function()
    local fc = nn.Linear(2, 2)
    fc.weight.grad = gb.tensor({ { 3, 4 }, { 0, 0 } })
    fc.bias.grad = gb.tensor({ -2, 0.5 })
    local n = nn.utils.grad_norms(fc)
    assert.is_true(close(n.weight, 5))
    assert.is_true(close(n.bias, math.sqrt(4.25)))
    nn.utils.clip_grad_value(fc, 1)
    assert.are.same({ { 1, 1 }, { 0, 0 } }, fc.weight.grad:totable())
    assert.are.same({ -1, 0.5 }, fc.bias.grad:totable())
  end)

  it('summary lists output shapes and parameter counts', function()
    local net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.BatchNorm1d(128), nn.Linear(128, 10))
    local s = nn.utils.summary(net, { 2, 784 }, { quiet = true })
    assert.are.equal(784 * 128 + 128 + 256 + 1290, s.total_params)
    assert.are.equal('(2,10)', s.rows[1].output_shape)
    assert.are.equal('(2,128)', s.rows[2].output_shape)
    assert.are.equal(100480, s.rows[2].params)
    assert.is_truthy(s.text:find('Total params: 102,026', 1, true))
    assert.is_true(net.training)
  end)
end)

describe('help', function()
  local function capture(x)
    local out = {}
    gb.help(x, { print = function(l) out[#out + 1] = l end })
    return out
  end

  it('prints the signature and body from docs/api.md', function()
    local o = capture(gb.nn.Linear)
    assert.are.equal('### gb.nn.Linear(in_features, out_features [, opts])', o[1])
    assert.is_truthy(table.concat(o, '\n'):find('local fc = gb.nn.Linear(784, 128', 1, true))
    assert.are.same(o, capture(gb.nn.Linear(2, 3)))
    assert.are.same(o, capture('Linear'))
    assert.is_truthy(capture(gb.zeros(1).sum)[1]:find('^### Tensor:sum%('))
    assert.is_truthy(capture(gb.optim.lr_find)[1]:find('^### gb.optim.lr_find%('))
    assert.is_truthy(capture(gb.nn.Linear(2, 2).parameters)[1]:find('^### Module:parameters%('))
    assert.is_truthy(capture('no_such_name_zz')[1]:find("^help: no entry for 'no_such_name_zz' in .*docs/api.md$"))
  end)

  it('finds an entry for every public function, class, module, tensor method and class method', function()
    local missing, n, seen = {}, 0, {}
    local function try(v, name, want)
      n = n + 1
      local o = capture(v)
      if not (o[1] or ''):match(want) then missing[#missing + 1] = name .. ' -> ' .. tostring(o[1]) end
    end
    local function walk(t, path, depth)
      if seen[t] or depth > 4 then return end
      seen[t] = true
      for k, v in pairs(t) do
        if type(k) == 'string' and k:sub(1, 1) ~= '_' and (type(v) == 'function' or type(v) == 'table') then
          try(v, path .. '.' .. k, '^##')
          if type(v) == 'table' and not rawget(v, '__name') then walk(v, path .. '.' .. k, depth + 1) end
        end
      end
    end
    walk(gb, 'gb', 0)
    for k, v in pairs(gb._tensor_methods) do
      if k:sub(1, 1) ~= '_' then try(v, 'Tensor:' .. k, '^###') end
    end
    local net = nn.Sequential(nn.Linear(2, 2))
    local opt = optim.SGD(net:parameters(), { lr = 0.1 })
    for _, obj in ipairs({ net, opt, optim.StepLR(opt, 2), utils.Logger(), nn.utils.GradMonitor(net),
                           utils.progress(3, { quiet = true }) }) do
      local c = getmetatable(obj)
      while c do
        for k, v in pairs(c) do
          if type(k) == 'string' and type(v) == 'function' and k:sub(1, 1) ~= '_' and k ~= 'init' then
            try(v, rawget(c, '__name') .. ':' .. k, '^###')
          end
        end
        c = rawget(c, 'super')
      end
    end
    assert.is_true(n > 300, 'walked only ' .. n)
    assert(#missing == 0, table.concat(missing, '\n'))
  end)

  it('the CLI defines the global help', function()
    local p = assert(io.popen(gpubp_binary() .. " -e 'help(gb.optim.SGD)' 2>&1"))
    local out = p:read('a')
    p:close()
    assert.are.equal('### gb.optim.SGD(params [, opts])', out:match('^[^\n]*'))
  end)
end)

describe('grid_search', function()
  it('runs every combination, averages over seeds and ranks', function()
    local calls = 0
    local tmp = io.tmpfile()
    local r = utils.grid_search(function(c)
      calls = calls + 1
      return { loss = (math.log(c.lr, 10) + 2) ^ 2 + c.wd + c.seed / 100 }
    end, { lr = { 1e-3, 1e-2, 1e-1 }, wd = { 0, 1 }, seed = { 1, 2 } }, { file = tmp })
    assert.are.equal(12, calls)
    assert.are.equal(12, #r.runs)
    assert.are.equal(6, #r.settings)
    assert.are.equal(1e-2, r.best.config.lr)
    assert.are.equal(0, r.best.config.wd)
    assert.is_true(close(r.best.value, 0.015))
    tmp:seek('set')
    local out = tmp:read('a')
    assert.is_truthy(out:find('best: lr=0.01 wd=0 (loss 0.015)', 1, true), out)
  end)
end)

-- ---- on the MNIST subset ---------------------------------------------------------------

local function deep(act, bn)
  local layers = { nn.Linear(784, 64) }
  for i = 1, 9 do
    if bn then layers[#layers + 1] = nn.BatchNorm1d(64) end
    layers[#layers + 1] = act()
    layers[#layers + 1] = nn.Linear(64, i == 9 and 10 or 64)
  end
  return nn.Sequential(table.unpack(layers))
end

local function seed_mlp() return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)) end

describe('GradMonitor on 10-layer MLPs', function()
  local train
  setup(function() train = data.mnist(support.mnist_dir(), 'train') end)

  local function run(act, bn)
    gb.manual_seed(1)
    local net = deep(act, bn)
    local out = io.tmpfile()
    local mon = nn.utils.GradMonitor(net, { file = out })
    local opt = optim.SGD(net:parameters(), { lr = 0.1 })
    local crit = nn.CrossEntropyLoss()
    local flagged, steps = 0, 0
    for x, y in data.DataLoader(train, { batch_size = 100, shuffle = true })() do
      opt:zero_grad()
      crit(net(x), y):backward()
      if #mon:check() > 0 then flagged = flagged + 1 end
      opt:step()
      steps = steps + 1
      if steps == 40 then break end
    end
    out:seek('set')
    return flagged, steps, out:read('a'), mon
  end

  it('flags vanishing gradients in a sigmoid MLP, naming layer 1', function()
    local flagged, steps, text, mon = run(nn.Sigmoid, false)
    assert.are.equal(steps, flagged)
    assert.is_truthy(text:find('GradMonitor: vanishing gradient: layer 1 (Linear(784 -> 64))', 1, true), text)
    local norms = mon:norms()
    assert.is_true(norms[1].norm / norms[#norms].norm < 1e-3)
    assert.are.equal('grad vanishing@1', mon:status())
  end)

  it('stays silent on a ReLU + BatchNorm MLP', function()
    local flagged, _, text = run(nn.ReLU, true)
    assert.are.equal(0, flagged)
    assert.are.equal('', text)
  end)

  it('names non-finite and exploding gradients', function()
    local net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    local mon = nn.utils.GradMonitor(net, { warn = false, max_norm = 10 })
    net[1].weight.grad = gb.tensor({ { 0 / 0, 1 }, { 1, 1 } })
    net[2].weight.grad = gb.tensor({ { 100, 0 } })
    local w = mon:check()
    assert.are.equal('nonfinite', w[1].kind)
    assert.are.equal('1', w[1].layer)
    assert.is_truthy(w[1].message:find('(parameter weight)', 1, true))
    assert.are.equal('exploding', w[2].kind)
    assert.are.equal('2', w[2].layer)
    assert.are.equal('grad nonfinite@1,exploding@2', mon:status())
  end)

  it('flags a norm growing fast between checks', function()
    local net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    local mon = nn.utils.GradMonitor(net, { warn = false, growth = 100, max_norm = 1e6 })
    net[1].weight.grad = gb.tensor({ { 0.03, 0.04 }, { 0, 0 } })
    net[2].weight.grad = gb.tensor({ { 0.3, 0.4 } })
    assert.are.same({}, mon:check())
    net[1].weight.grad = gb.tensor({ { 1.5, 2 }, { 0, 0 } })      -- x50: below 100x
    assert.are.same({}, mon:check())
    net[1].weight.grad = gb.tensor({ { 3000, 4000 }, { 0, 0 } })  -- x2000 since the last check
    local w = mon:check()
    assert.are.equal(1, #w)
    assert.are.equal('exploding', w[1].kind)
    assert.matches('layer 1 %(Linear%(2 %-> 2%)%) grew from 2.5 to 5e%+03 since the last check', w[1].message)
  end)
end)

describe('lr_find', function()
  local train
  setup(function() train = data.mnist(support.mnist_dir(), 'train') end)

  it('leaves the model, the optimizer state and the RNG exactly as they were', function()
    gb.manual_seed(5)
    local net = nn.Sequential(nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    local crit = nn.CrossEntropyLoss()
    local loader = data.DataLoader(train, { batch_size = 50, shuffle = true })
    for _, make in ipairs({
      function(p) return optim.SGD(p, { lr = 0.05, momentum = 0.9 }) end,
      function(p) return optim.Adam(p, { lr = 1e-3 }) end,
    }) do
      local opt = make(net:parameters())
      local x, y = loader()()
      for _ = 1, 2 do opt:zero_grad(); crit(net(x), y):backward(); opt:step() end
      net:eval()
      local before = {}
      for k, v in pairs(net:state_dict()) do before[k] = v:clone():totable() end
      local grads = net[1].weight.grad:clone():totable()
      local osd = opt:state_dict()
      local rng = gb.get_rng_state()
      local res = optim.lr_find(net, crit, loader, { optimizer = opt, steps = 30, start_lr = 1e-4, end_lr = 1 })
      assert.are.equal(30, #res.lrs)
      for k, v in pairs(net:state_dict()) do assert.are.same(before[k], v:totable(), k) end
      assert.are.same(grads, net[1].weight.grad:totable())
      assert.is_false(net.training)
      local now = opt:state_dict()
      assert.are.same(osd.param_groups, now.param_groups)
      for i, st in pairs(osd.state) do
        for k, v in pairs(st) do
          if gb.is_tensor(v) then assert.are.same(v:totable(), now.state[i][k]:totable(), k)
          else assert.are.equal(v, now.state[i][k], k) end
        end
      end
      local a = gb.rand(4):totable()
      gb.set_rng_state(rng)
      assert.are.same(gb.rand(4):totable(), a)
      net:train()
    end
  end)

  it('suggests an lr within x3 of the best of a grid (SGD, 2 epochs); 3 seeds agree within x2', function()
    local test = data.mnist(support.mnist_dir(), 'test')
    local crit = nn.CrossEntropyLoss()
    local grid = utils.grid_search(function(c)
      local net = seed_mlp()
      local opt = optim.SGD(net:parameters(), { lr = c.lr })
      local loader = data.DataLoader(train, { batch_size = 100, shuffle = true })
      for _ = 1, 2 do
        for x, y in loader() do opt:zero_grad(); crit(net(x), y):backward(); opt:step() end
      end
      return { loss = gb.no_grad(function() return crit(net(test.x), test.y):item() end) }
    end, { lr = { 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1 }, seed = { 1 } }, { quiet = true })
    local best = grid.best.config.lr
    local sugg = {}
    for seed = 1, 3 do
      gb.manual_seed(seed)
      local loader = data.DataLoader(train, { batch_size = 100, shuffle = true })
      local res = optim.lr_find(seed_mlp(), crit, loader, { start_lr = 1e-7, end_lr = 10, steps = 100 })
      sugg[seed] = res.suggestion
      assert.is_true(res.suggestion >= best / 3 and res.suggestion <= best * 3,
        string.format('seed %d: suggestion %.3g, grid best %.3g', seed, res.suggestion, best))
    end
    local lo, hi = math.min(table.unpack(sugg)), math.max(table.unpack(sugg))
    assert.is_true(hi / lo <= 2, string.format('suggestions %.3g .. %.3g', lo, hi))
  end)

  it('writes its plot and rejects bad options', function()
    gb.manual_seed(1)
    local svg = os.tmpname() .. '.svg'
    local res = optim.lr_find(seed_mlp(), nn.CrossEntropyLoss(),
      data.DataLoader(train, { batch_size = 100, shuffle = true }), { steps = 40, plot = svg })
    local text = read(svg)
    os.remove(svg)
    assert.is_truthy(text:find(string.format('suggested lr %.2g', res.suggestion), 1, true))
    assert.is_truthy(text:find('>learning rate (log scale)<', 1, true))
    assert.matches("lr_find: unknown option 'stepz'", select(2, pcall(optim.lr_find, seed_mlp(),
      nn.CrossEntropyLoss(), function() end, { stepz = 3 })))
  end)
end)
