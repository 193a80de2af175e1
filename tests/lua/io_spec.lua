-- io_spec.lua — gb.save / gb.load (safetensors) and gb.io.read_idx from Lua: round trips of
-- every dtype, views and metadata, a model's state_dict, the file's byte layout read with
-- string.unpack, and errors that name the path and leave the runtime (and old files) intact.
-- Run: build/gpubp /usr/bin/busted tests/lua/io_spec.lua

local gb = require('gpubp')
local read_idx = (gb.io and gb.io.read_idx) or gb.read_idx

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute('mkdir -p ' .. d))
  return d
end

local function slurp(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

local function spit(path, s)
  local f = assert(io.open(path, 'wb'))
  f:write(s)
  f:close()
end

local function listdir(dir)
  local p = io.popen('ls -A ' .. dir)
  local names = {}
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  return names
end

-- error message of fn(...), which must fail
local function err_of(fn, ...)
  local ok, msg = pcall(fn, ...)
  assert.is_false(ok, 'expected an error')
  return tostring(msg)
end

local function plain(s) return (s:gsub('[%^%$%(%)%%%.%[%]%*%+%-%?]', '%%%0')) end

describe('gb.save / gb.load', function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute('rm -rf ' .. dir) end)

  it('round-trips float32, int32, int64, scalars and views with metadata', function()
    local base = gb.tensor({ { 1, 2, 3, 4 }, { 5, 6, 7, 8 }, { 9, 10, 11, 12 } })
    local t = {
      w = gb.tensor({ { 1.5, -2 }, { 3, 4.25 } }),
      labels = gb.tensor({ 3, 1, 2 }, { dtype = 'int64' }),
      idx = gb.tensor({ { -7, 8 } }, { dtype = 'int32' }),
      s = gb.tensor(42.5),
      wt = base:t(), -- non-contiguous (4, 3) view
      col = base:narrow(2, 2, 2), -- offset view (3, 2)
    }
    local path = dir .. '/m.safetensors'
    assert.is_true(gb.save(path, t, { epoch = '3', format = 'pt' }))
    local back, meta = gb.load(path)
    assert.are.same({ epoch = '3', format = 'pt' }, meta)
    local n = 0
    for name, v in pairs(back) do
      n = n + 1
      assert.are.equal(t[name].dtype, v.dtype, name)
      assert.are.equal('cpu', v.device)
      assert.are.same(t[name].shape, v.shape, name)
      assert.are.same(t[name]:totable(), v:totable(), name)
    end
    assert.are.equal(6, n)
    assert.are.same({ { 1, 5, 9 }, { 2, 6, 10 }, { 3, 7, 11 }, { 4, 8, 12 } }, back.wt:totable())
    assert.are.same({ { 2, 3 }, { 6, 7 }, { 10, 11 } }, back.col:totable())
    assert.are.same({ 'm.safetensors' }, listdir(dir)) -- no temporaries left
  end)

  it('writes the safetensors layout: LE u64 length, padded JSON, raw LE data', function()
    local path = dir .. '/l.safetensors'
    gb.save(path, { b = gb.tensor({ 7, -1 }, { dtype = 'int64' }), a = gb.tensor({ 0.5, 2 }) })
    local bytes = slurp(path)
    local n = string.unpack('<I8', bytes)
    assert.are.equal(0, n % 8)
    local header = bytes:sub(9, 8 + n)
    assert.are.equal(
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        .. '"b":{"dtype":"I64","shape":[2],"data_offsets":[8,24]}}',
      (header:gsub(' +$', '')))
    local a1, a2, b1, b2 = string.unpack('<ffi8i8', bytes, 9 + n)
    assert.are.same({ 0.5, 2, 7, -1 }, { a1, a2, b1, b2 })
    assert.are.equal(8 + n + 24, #bytes)
  end)

  it('round-trips a model state_dict into a fresh model', function()
    gb.manual_seed(1)
    local net = gb.nn.Sequential(gb.nn.Linear(4, 3), gb.nn.ReLU(), gb.nn.Linear(3, 2))
    local path = dir .. '/net.safetensors'
    gb.save(path, net:state_dict())
    gb.manual_seed(2)
    local net2 = gb.nn.Sequential(gb.nn.Linear(4, 3), gb.nn.ReLU(), gb.nn.Linear(3, 2))
    net2:load_state_dict((gb.load(path)))
    local x = gb.randn(5, 4)
    assert.are.same(net(x):totable(), net2(x):totable())
  end)

  it('round-trips an Adam optimizer state (flattened) so training resumes identically',
    function()
      local Optimizer = require('gpubp.optim.Optimizer')
      local function make()
        gb.manual_seed(3)
        local net = gb.nn.Linear(3, 2)
        return net, gb.optim.Adam(net:parameters(), { lr = 0.01 })
      end
      local x = gb.randn(4, 3)
      local function step(net, opt)
        opt:zero_grad()
        local loss = (net(x) ^ 2):mean()
        loss:backward()
        opt:step()
      end
      local net, opt = make()
      for _ = 1, 3 do step(net, opt) end
      local path = dir .. '/opt.safetensors'
      local flat = Optimizer.flatten_state_dict(opt:state_dict(), 'optim.')
      for k, v in pairs(net:state_dict()) do flat['model.' .. k] = v end
      gb.save(path, flat)
      local back = gb.load(path)
      local net2, opt2 = make()
      local msd = {}
      for k, v in pairs(back) do
        if k:sub(1, 6) == 'model.' then msd[k:sub(7)] = v end
      end
      net2:load_state_dict(msd)
      opt2:load_state_dict(Optimizer.unflatten_state_dict(back, 'optim.'))
      step(net, opt)
      step(net2, opt2)
      assert.are.same(net.weight:totable(), net2.weight:totable())
      assert.are.same(net.bias:totable(), net2.bias:totable())
    end)

  it('replaces an existing file and keeps it when a save fails', function()
    local path = dir .. '/k.safetensors'
    gb.save(path, { x = gb.tensor({ 1, 2 }) })
    gb.save(path, { x = gb.tensor({ 3, 4, 5 }) })
    assert.are.same({ 3, 4, 5 }, gb.load(path).x:totable())
    local before = slurp(path)
    local msg = err_of(gb.save, path, { x = gb.tensor({ 1 }), y = 'nope' })
    assert.matches("save: " .. plain(path) .. ": value for 'y' is a string, expected a tensor",
      msg)
    assert.are.equal(before, slurp(path))
    assert.are.same({ 'k.safetensors' }, listdir(dir))
  end)

  it('names the path when the directory is missing or the target is a directory', function()
    local path = dir .. '/no/such/dir/m.safetensors'
    local msg = err_of(gb.save, path, { x = gb.tensor({ 1 }) })
    assert.matches('save: ' .. plain(path) .. ': cannot create temporary file .*'
      .. 'No such file or directory', msg)
    msg = err_of(gb.save, dir, { x = gb.tensor({ 1 }) })
    assert.matches('save: ' .. plain(dir) .. ': not a regular file %(it is a directory%); '
      .. 'refusing to replace it', msg)
    assert.are.same({}, listdir(dir))
    msg = err_of(gb.load, dir .. '/missing.safetensors')
    assert.matches('load: ' .. plain(dir) .. '/missing.safetensors: cannot open: No such file',
      msg)
    msg = err_of(gb.load, dir)
    assert.matches('load: ' .. plain(dir) .. ': not a regular file %(it is a directory%)', msg)
  end)

  it('rejects garbage and truncated files by name, and keeps working', function()
    local path = dir .. '/g.safetensors'
    spit(path, 'this is not a checkpoint at all')
    assert.matches('load: ' .. plain(path) .. ': header length %d+ is over the', err_of(gb.load, path))
    gb.save(path, { x = gb.tensor({ 1, 2, 3 }) })
    local bytes = slurp(path)
    spit(path, bytes:sub(1, #bytes - 4))
    assert.matches('load: ' .. plain(path) .. ": tensor 'x': data_offsets %[0, 12%] are beyond "
      .. 'the 8%-byte data buffer %(truncated file%?%)', err_of(gb.load, path))
    spit(path, bytes .. 'junk')
    assert.matches('load: ' .. plain(path) .. ": trailing garbage: 4 bytes after the last "
      .. "tensor's data", err_of(gb.load, path))
    assert.are.same({ 2, 4 }, (gb.tensor({ 1, 2 }) * 2):totable())
  end)

  it('checks its arguments', function()
    local path = dir .. '/a.safetensors'
    assert.matches("bad argument #1 to '[%w.]*save'", err_of(gb.save, nil, {}))
    assert.matches("bad argument #2 to '[%w.]*save'", err_of(gb.save, path, 5))
    assert.matches('save: ' .. plain(path) .. ': tensor names must be strings %(got a number key%)',
      err_of(gb.save, path, { gb.tensor({ 1 }) }))
    assert.matches("save: " .. plain(path) .. ": metadata value for 'k' is a table, expected a "
      .. 'string', err_of(gb.save, path, { x = gb.tensor({ 1 }) }, { k = {} }))
    assert.matches('save: ' .. plain(path) .. ': "__metadata__" is reserved',
      err_of(gb.save, path, { __metadata__ = gb.tensor({ 1 }) }))
    assert.matches("bad argument #1 to '[%w.]*load'", err_of(gb.load))
    assert.are.same({}, listdir(dir))
  end)
end)

describe('gb.io.read_idx', function()
  it('reads gzip and raw IDX files as float32 or int64', function()
    local x = read_idx('tests/fixtures/idx/tiny-images-idx3-ubyte.gz')
    assert.are.same({ 3, 28, 28 }, x.shape)
    assert.are.equal('float32', x.dtype)
    assert.are.equal(6, x[2][1][6]:item()) -- image k pixel (r, c) = (28 r + c + k) % 256
    local y = read_idx('tests/fixtures/idx/tiny-labels-idx1-ubyte', 'int64')
    assert.are.equal('int64', y.dtype)
    assert.are.same({ 7, 2, 1 }, y:totable())
  end)

  it('names the file and the problem', function()
    local dir = tmpdir()
    local path = dir .. '/bad-idx1-ubyte'
    spit(path, '\0\0\8\1\0\0\3\232' .. 'abc')
    assert.matches('read_idx: ' .. plain(path) .. ': truncated: expected 1000 data bytes, got 3',
      err_of(read_idx, path, 'int64'))
    spit(path, '\1\8\0\0')
    assert.matches('read_idx: ' .. plain(path) .. ': bad magic 0x01080000', err_of(read_idx, path))
    assert.matches('read_idx: ' .. plain(dir) .. '/none: cannot open: No such file or directory',
      err_of(read_idx, dir .. '/none'))
    assert.matches("bad argument #2 to '[%w.]*read_idx' %(unknown dtype 'float16'%)",
      err_of(read_idx, path, 'float16'))
    os.execute('rm -rf ' .. dir)
  end)
end)
