-- train_mnist.lua — the seed's training program: an MLP 784-H-10 (ReLU) trained with
-- cross-entropy on MNIST-format data, reporting test accuracy after every epoch.
--   build/gpubp scripts/train_mnist.lua [--epochs 10] [--optim sgd|adam|rmsprop] ...
-- Run with --help for every option. The last line printed is `test accuracy: 0.xxxx`.

local gb = require('gpubp')
local nn, optim, data = gb.nn, gb.optim, gb.data

local USAGE = [[
usage: gpubp scripts/train_mnist.lua [options]
  --data DIR          MNIST-format IDX files (default $GPUBP_DATA or data/mnist)
  --epochs N          epochs to train (default 10)
  --lr X              learning rate (default 0.01 for sgd, 0.001 for adam/rmsprop)
  --batch N           batch size (default 100)
  --hidden N          hidden units (default 128)
  --optim NAME        sgd | adam | rmsprop (default sgd)
  --momentum X        SGD/RMSprop momentum (default 0)
  --device D          cpu | cuda | cuda:N (default: gpubp's default device)
  --seed N            random seed (default 1)
  --plot FILE.svg     write loss and accuracy per epoch as an SVG chart
  --checkpoint FILE   save model, optimizer and progress after every epoch
  --resume FILE       continue from a checkpoint written by --checkpoint
  --quiet             no live progress line
  -h, --help          this text]]

local function fail(msg)
  io.stderr:write('train_mnist: ', msg, '\n')
  os.exit(2)
end

local NUMERIC = { epochs = 'int', lr = 'num', batch = 'int', hidden = 'int', momentum = 'num',
                  seed = 'int' }
local STRING = { data = true, optim = true, device = true, plot = true, checkpoint = true,
                 resume = true }

local function parse_args(argv)
  local o = {
    data = os.getenv('GPUBP_DATA') or 'data/mnist', epochs = 10, batch = 100, hidden = 128,
    optim = 'sgd', momentum = 0, seed = 1,
  }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == '-h' or a == '--help' then print(USAGE) os.exit(0) end
    if a == '--quiet' then
      o.quiet = true
      i = i + 1
    else
      local key, val = a:match('^%-%-([%w_]+)=(.*)$')
      if not key then
        key = a:match('^%-%-([%w_]+)$')
        val = argv[i + 1]
        i = i + 1
      end
      if not key or not (NUMERIC[key] or STRING[key]) then
        fail("unknown option '" .. a .. "'\n" .. USAGE)
      end
      if val == nil then fail('option --' .. key .. ' needs a value') end
      if NUMERIC[key] == 'int' then
        o[key] = math.tointeger(tonumber(val))
        if not o[key] then fail('option --' .. key .. ' expects an integer, got ' .. val) end
      elseif NUMERIC[key] then
        o[key] = tonumber(val)
        if not o[key] then fail('option --' .. key .. ' expects a number, got ' .. val) end
      else
        o[key] = val
      end
      i = i + 1
    end
  end
  if o.optim ~= 'sgd' and o.optim ~= 'adam' and o.optim ~= 'rmsprop' then
    fail("--optim must be sgd, adam or rmsprop, got '" .. o.optim .. "'")
  end
  o.lr = o.lr or (o.optim == 'sgd' and 0.01 or 0.001)
  if o.epochs < 1 or o.batch < 1 or o.hidden < 1 then
    fail('--epochs, --batch and --hidden must be positive')
  end
  return o
end

local function isatty()
  if gb.isatty then return gb.isatty(1) end
  local ok = os.execute('test -t 1')
  return ok == true
end

local function format_time(s)
  if s >= 60 then return string.format('%dm%02ds', s // 60, math.floor(s % 60)) end
  if s < 10 then return string.format('%.2fs', s) end
  return string.format('%.1fs', s)
end

-- SVG chart: two panels (train loss, test accuracy) over epochs.
local function write_plot(path, history, title)
  local W, H, PW, PH, L, T = 760, 320, 300, 220, 60, 50
  local out = {}
  local function add(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
      .. 'font-family="sans-serif" font-size="12">', W, H)
  add('<rect width="%d" height="%d" fill="white"/>', W, H)
  add('<text x="%d" y="24" font-size="15" text-anchor="middle">%s</text>', W // 2, title)
  local n = #history.loss
  local function panel(x0, name, values, lo, hi, color, fmt)
    if hi <= lo then hi = lo + 1 end
    local function px(i) return x0 + (n == 1 and PW / 2 or (i - 1) * PW / (n - 1)) end
    local function py(v) return T + PH - (v - lo) / (hi - lo) * PH end
    add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>', x0, T + PH, x0 + PW, T + PH)
    add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>', x0, T, x0, T + PH)
    for k = 0, 4 do
      local v = lo + (hi - lo) * k / 4
      local y = py(v)
      add('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>', x0, y, x0 + PW, y)
      add('<text x="%d" y="%.1f" text-anchor="end">' .. fmt .. '</text>', x0 - 6, y + 4, v)
    end
    local step = math.max(1, math.ceil(n / 10))
    for i = 1, n, step do
      add('<text x="%.1f" y="%d" text-anchor="middle">%d</text>', px(i), T + PH + 16, i)
    end
    add('<text x="%d" y="%d" text-anchor="middle">epoch</text>', x0 + PW // 2, T + PH + 34)
    add('<text x="%d" y="%d" text-anchor="middle" fill="%s">%s</text>', x0 + PW // 2, T - 10,
        color, name)
    local pts = {}
    for i, v in ipairs(values) do pts[#pts + 1] = string.format('%.1f,%.1f', px(i), py(v)) end
    add('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>', color,
        table.concat(pts, ' '))
    for i, v in ipairs(values) do
      add('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>epoch %d: %.4f</title></circle>',
          px(i), py(v), color, i, v)
    end
  end
  local maxloss = 0
  for _, v in ipairs(history.loss) do maxloss = math.max(maxloss, v) end
  local minacc = 1
  for _, v in ipairs(history.acc) do minacc = math.min(minacc, v) end
  panel(L, 'train loss', history.loss, 0, maxloss * 1.05, '#c0392b', '%.2f')
  panel(L + PW + 90, 'test accuracy', history.acc, math.floor(minacc * 10) / 10, 1, '#2471a3',
        '%.2f')
  add('</svg>')
  local f, err = io.open(path, 'w')
  if not f then fail('cannot write plot: ' .. tostring(err)) end
  f:write(table.concat(out, '\n'), '\n')
  f:close()
end

local function prefixed(tbl, prefix)
  local out = {}
  for k, v in pairs(tbl) do
    if k:sub(1, #prefix) == prefix then out[k:sub(#prefix + 1)] = v end
  end
  return out
end

local function save_checkpoint(path, model, opt, o, epoch, history)
  local flat = optim.flatten_state_dict(opt:state_dict(), 'optim.')
  for k, v in pairs(model:state_dict()) do flat['model.' .. k] = v end
  flat['meta.epoch'] = gb.tensor({ epoch }, { dtype = 'int64' })
  flat['meta.seed'] = gb.tensor({ o.seed }, { dtype = 'int64' })
  flat['meta.loss'] = gb.tensor(history.loss)
  flat['meta.acc'] = gb.tensor(history.acc)
  optim.flatten_state_dict({ rng = gb.get_rng_state() }, 'meta.', flat)
  gb.save(path, flat)
end

local function load_checkpoint(path, model, opt, o)
  local flat = gb.load(path)
  model:load_state_dict(prefixed(flat, 'model.'))
  opt:load_state_dict(optim.unflatten_state_dict(flat, 'optim.'))
  local epoch = flat['meta.epoch']:totable()[1]
  o.seed = flat['meta.seed']:totable()[1]
  local history = { loss = flat['meta.loss']:totable(), acc = flat['meta.acc']:totable() }
  gb.set_rng_state(optim.unflatten_state_dict(flat, 'meta.').rng)
  return epoch, history
end

local function evaluate(model, loader)
  model:eval()
  local correct, n = 0, 0
  gb.no_grad(function()
    for x, y in loader() do
      correct = correct + model(x):argmax(2):eq(y):sum():item()
      n = n + y:size(1)
    end
  end)
  model:train()
  return correct / n
end

local function main(argv)
  local o = parse_args(argv)
  if (o.checkpoint or o.resume) and not (gb.save and gb.load and gb.get_rng_state) then
    fail('--checkpoint/--resume need gb.save, gb.load and gb.get_rng_state, which this build lacks')
  end
  local device = o.device or (gb.get_default_device and gb.get_default_device()) or 'cpu'
  local usable, why = pcall(function() return gb.zeros(1):to(device) end)
  if not usable then fail(tostring(why):gsub('^[^:\n]*%.lua:%d+: ', '')) end
  gb.manual_seed(o.seed)

  local ok, train_set = pcall(data.mnist, o.data, 'train')
  if not ok then fail(tostring(train_set)) end
  local test_set
  ok, test_set = pcall(data.mnist, o.data, 'test')
  if not ok then fail(tostring(test_set)) end
  for _, ds in ipairs({ train_set, test_set }) do
    ds.x, ds.y = ds.x:to(device), ds.y:to(device)
  end
  local train_loader = data.DataLoader(train_set, { batch_size = o.batch, shuffle = true })
  local test_loader = data.DataLoader(test_set, { batch_size = 1000 })

  local model = nn.Sequential(nn.Linear(784, o.hidden), nn.ReLU(), nn.Linear(o.hidden, 10))
  model:to(device)
  local criterion = nn.CrossEntropyLoss()
  local opt
  if o.optim == 'sgd' then
    opt = optim.SGD(model:parameters(), { lr = o.lr, momentum = o.momentum })
  elseif o.optim == 'adam' then
    opt = optim.Adam(model:parameters(), { lr = o.lr })
  else
    opt = optim.RMSprop(model:parameters(), { lr = o.lr, momentum = o.momentum })
  end

  local start, history = 1, { loss = {}, acc = {} }
  if o.resume then
    local done
    done, history = load_checkpoint(o.resume, model, opt, o)
    start = done + 1
    print(string.format('resumed from %s after epoch %d', o.resume, done))
  end
  print(string.format('train %d, test %d samples from %s; device %s; %s lr %g, batch %d, '
    .. 'hidden %d, seed %d', train_set.n, test_set.n, o.data, device, o.optim, o.lr, o.batch,
    o.hidden, o.seed))

  local live = not o.quiet and isatty()
  local nb = #train_loader
  local acc = history.acc[#history.acc] or 0
  for epoch = start, o.epochs do
    local t0, last_draw = gb.time(), -1
    local loss_sum, seen = nil, 0
    local b = 0
    for x, y in train_loader() do
      b = b + 1
      local loss = criterion(model(x), y)
      opt:zero_grad()
      loss:backward()
      opt:step()
      local l = loss:detach()
      loss_sum = loss_sum and loss_sum + l or l
      seen = seen + x:size(1)
      if live then
        local now = gb.time()
        if now - last_draw > 0.1 or b == nb then
          last_draw = now
          local rate = seen / math.max(now - t0, 1e-9)
          io.write(string.format('\r\27[Kepoch %d/%d  batch %d/%d  loss %.4f  %.0f samples/s  ETA %s',
            epoch, o.epochs, b, nb, l:item(), rate,
            format_time((train_set.n - seen) / rate)))
          io.flush()
        end
      end
    end
    local train_loss = loss_sum:item() / b
    acc = evaluate(model, test_loader)
    local dt = gb.time() - t0
    if live then io.write('\r\27[K') end
    history.loss[#history.loss + 1] = train_loss
    history.acc[#history.acc + 1] = acc
    print(string.format('epoch %d/%d  train loss %.4f  test accuracy %.4f  time %s (%.0f samples/s)',
      epoch, o.epochs, train_loss, acc, format_time(dt), seen / dt))
    if o.checkpoint then save_checkpoint(o.checkpoint, model, opt, o, epoch, history) end
  end
  if o.plot then
    write_plot(o.plot, history, string.format('MLP 784-%d-10, %s lr %g, batch %d', o.hidden,
      o.optim, o.lr, o.batch))
  end
  print(string.format('test accuracy: %.4f', acc))
end

main(arg or {})
