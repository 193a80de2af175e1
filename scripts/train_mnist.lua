-- train_mnist.lua — the seed's training program: an MLP 784-H-10 (ReLU) trained with
-- cross-entropy on MNIST-format data, reporting test accuracy after every epoch.
--   build/gpubp scripts/train_mnist.lua [--epochs 10] [--optim sgd|adam|rmsprop] ...
-- Run with --help for every option. The last line printed is `test accuracy: 0.xxxx`.
-- Data-parallel: mpirun -np N gpubp scripts/train_mnist.lua --distributed (docs/distributed.md).

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
  --plot FILE.svg     write loss and accuracy per epoch as an SVG chart (gb.utils.Logger)
  --log FILE.csv      log train loss and test accuracy per epoch (.csv or .jsonl)
  --monitor           check gradient health every step (GradMonitor), shown in the progress line
  --checkpoint FILE   save model, optimizer and progress after every epoch
  --resume FILE       continue from a checkpoint written by --checkpoint
  --quiet             no progress meter (gb.utils.progress, on stderr)
  --distributed       data-parallel over the ranks of mpirun (gb.distributed): --batch is
                      the global batch, split evenly; rank 1 alone prints, logs and writes
                      checkpoints; --resume reads a checkpoint of any world size
  -h, --help          this text]]

local function fail(msg)
  io.stderr:write('train_mnist: ', msg, '\n')
  os.exit(2)
end

local NUMERIC = { epochs = 'int', lr = 'num', batch = 'int', hidden = 'int', momentum = 'num',
                  seed = 'int' }
local STRING = { data = true, optim = true, device = true, plot = true, checkpoint = true,
                 resume = true, log = true }

local function parse_args(argv)
  local o = {
    data = os.getenv('GPUBP_DATA') or 'data/mnist', epochs = 10, batch = 100, hidden = 128,
    optim = 'sgd', momentum = 0, seed = 1,
  }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == '-h' or a == '--help' then print(USAGE) os.exit(0) end
    if a == '--quiet' or a == '--monitor' or a == '--distributed' then
      o[a:sub(3)] = true
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
  local dist = o.distributed and gb.distributed or nil
  local rank, world = 1, 1
  if dist then
    local ok, err = pcall(dist.init)
    if not ok then fail(tostring(err):gsub('^[^:\n]*%.lua:%d+: ', '')) end
    rank, world = dist.rank(), dist.world_size()
    if o.batch % world ~= 0 then
      fail(string.format('--batch %d does not split over %d ranks', o.batch, world))
    end
  end
  local main_rank = rank == 1
  local print = main_rank and print or function() end
  if not main_rank then o.quiet, o.plot, o.log, o.checkpoint = true, nil, nil, nil end
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
  local train_loader = data.DataLoader(train_set, { batch_size = o.batch // world, shuffle = true,
    distributed = dist ~= nil, seed = o.seed })
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
  -- every rank reads a checkpoint (model and optimizer state do not depend on the world
  -- size); the wrapper then starts all ranks from rank 1's parameters

  local start, history = 1, { loss = {}, acc = {} }
  if o.resume then
    local done
    done, history = load_checkpoint(o.resume, model, opt, o)
    start = done + 1
    print(string.format('resumed from %s after epoch %d', o.resume, done))
  end
  local net = dist and nn.DistributedDataParallel(model) or model
  print(string.format('train %d, test %d samples from %s; device %s; %s lr %g, batch %d, '
    .. 'hidden %d, seed %d%s', train_set.n, test_set.n, o.data, device, o.optim, o.lr, o.batch,
    o.hidden, o.seed, dist and string.format('; %d ranks x batch %d', world, o.batch // world) or ''))

  local nb = #train_loader
  local acc = history.acc[#history.acc] or 0
  local log = (o.plot or o.log) and gb.utils.Logger(o.log)
  for e = 1, #history.loss do
    if log then log:log_epoch({ train_loss = history.loss[e], test_accuracy = history.acc[e] }) end
  end
  local monitor = o.monitor and nn.utils.GradMonitor(model) or nil
  for epoch = start, o.epochs do
    local t0 = gb.time()
    local loss_sum, seen = nil, 0
    train_loader:set_epoch(epoch)
    local bar = gb.utils.progress(nb, { desc = string.format('epoch %d/%d', epoch, o.epochs),
      quiet = o.quiet, monitor = monitor, unit = 'batch' })
    for x, y in train_loader() do
      local loss = criterion(net(x), y)
      opt:zero_grad()
      loss:backward()
      if monitor then monitor:check() end
      opt:step()
      local l = loss:detach()
      loss_sum = loss_sum and loss_sum + l or l
      seen = seen + x:size(1)
      bar:update(1, { loss = l })
    end
    bar:close()
    if dist then dist.all_reduce(loss_sum, 'mean') end
    local train_loss = loss_sum:item() / nb
    seen = seen * world
    acc = evaluate(model, test_loader)
    local dt = gb.time() - t0
    history.loss[#history.loss + 1] = train_loss
    history.acc[#history.acc + 1] = acc
    if log then log:log_epoch({ train_loss = train_loss, test_accuracy = acc }, epoch) end
    print(string.format('epoch %d/%d  train loss %.4f  test accuracy %.4f  time %s (%.0f samples/s)',
      epoch, o.epochs, train_loss, acc, gb.utils.Progress.format_time(dt), seen / dt))
    if o.checkpoint then save_checkpoint(o.checkpoint, model, opt, o, epoch, history) end
  end
  if log then log:close() end
  if o.plot then
    log:plot(o.plot, { title = string.format('MLP 784-%d-10, %s lr %g, batch %d', o.hidden,
      o.optim, o.lr, o.batch), panels = { { 'train_loss', title = 'train loss' },
      { 'test_accuracy', title = 'test accuracy' } } })
  end
  print(string.format('test accuracy: %.4f', acc))
end

main(arg or {})
