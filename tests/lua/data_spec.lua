-- data_spec.lua — gb.data: the MNIST loader on whatever MNIST copy scripts/fetch_data.sh put
-- in data/mnist (expectations are derived from the files themselves), its error messages on
-- missing or inconsistent files, and the DataLoader's batching and seeded shuffling.
-- Run: build/gpubp /usr/bin/busted tests/lua/data_spec.lua

local gb = require('gpubp')
local data = gb.data

local support = dofile('tests/lua/support.lua')
local mnist_dir = support.mnist_dir

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute('mkdir -p ' .. d))
  return d
end

-- Writes an uncompressed IDX file: magic 0x08 (ubyte) with `dims`, then bytes from fn(i).
local function write_idx(path, dims, fn)
  local f = assert(io.open(path, 'wb'))
  f:write(string.pack('>I4', 0x800 + #dims))
  local n = 1
  for _, d in ipairs(dims) do
    f:write(string.pack('>I4', d))
    n = n * d
  end
  local bytes = {}
  for i = 1, n do bytes[i] = string.char(fn(i)) end
  f:write(table.concat(bytes))
  f:close()
end

describe('data.mnist', function()
  local dir = mnist_dir()

  -- The reference: the same files read independently (gzip -dc and string.unpack), so the
  -- spec holds for any correct MNIST-format copy, whatever its size or order.
  local function reference(split)
    local prefix = split == 'train' and 'train' or 't10k'
    local function raw(name)
      local p = assert(io.popen('gzip -dc ' .. dir .. '/' .. prefix .. name .. '.gz', 'r'))
      local bytes = p:read('a')
      p:close()
      return bytes
    end
    local images, labels = raw('-images-idx3-ubyte'), raw('-labels-idx1-ubyte')
    local n, rows, cols = string.unpack('>I4>I4>I4', images, 5)
    assert(n == string.unpack('>I4', labels, 5), 'reference: image and label counts differ')
    local ref = { n = n, pixels = rows * cols, first = {}, count = {}, first_sum = 0 }
    for c = 1, 10 do ref.count[c] = 0 end
    for i = 1, n do
      local class = labels:byte(8 + i) + 1
      ref.count[class] = ref.count[class] + 1
      if i <= 10 then ref.first[i] = class end
    end
    for j = 1, ref.pixels do ref.first_sum = ref.first_sum + images:byte(16 + j) end
    return ref
  end

  local function check_split(split)
    local ds, ref = data.mnist(dir, split), reference(split)
    assert.are.same({ ref.n, 784 }, ds.x.shape)
    assert.are.same({ ref.n }, ds.y.shape)
    assert.are.equal('float32', ds.x.dtype)
    assert.are.equal('int64', ds.y.dtype)
    assert.are.equal(0, ds.x:min():item())
    assert.are.equal(1, ds.x:max():item())
    -- digit d is class d + 1, in file order
    local k = math.min(10, ref.n)
    assert.are.same({ table.unpack(ref.first, 1, k) }, ds.y:narrow(1, 1, k):totable())
    assert.is_true(math.abs(ds.x[1]:sum():item() - ref.first_sum / 255) < 1e-3)
    for c = 1, 10 do assert.are.equal(ref.count[c], ds.y:eq(c):sum():item()) end
    assert.are.same({ '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' }, ds.classes)
  end

  it('loads the train split as (N, 784) floats in [0, 1] and labels 1..10', function()
    check_split('train')
  end)

  it('loads the test split', function() check_split('test') end)

  it('names the files it tried when the directory has none', function()
    local ok, err = pcall(data.mnist, '/nonexistent/mnist', 'train')
    assert.is_false(ok)
    assert.matches('/nonexistent/mnist/train-images-idx3-ubyte.gz or '
      .. '/nonexistent/mnist/train-images-idx3-ubyte', err, 1, true)
    assert.matches('train-labels-idx1-ubyte', err, 1, true)
  end)

  it('rejects an unknown split', function()
    assert.has_error(function() data.mnist(dir, 'valid') end,
      "data.mnist: split must be 'train' or 'test', got 'valid'")
  end)

  it('reads raw files; names the file(s) on mismatched counts, bad labels, truncation, bad magic', function()
    local d = tmpdir()
    write_idx(d .. '/t10k-images-idx3-ubyte', { 3, 28, 28 }, function(i) return i % 256 end)
    write_idx(d .. '/t10k-labels-idx1-ubyte', { 2 }, function(i) return i end)
    local ok, err = pcall(data.mnist, d, 'test')
    assert.is_false(ok)
    assert.matches(d .. '/t10k-images-idx3-ubyte has 3 images but ' .. d
      .. '/t10k-labels-idx1-ubyte has 2 labels', err, 1, true)
    write_idx(d .. '/t10k-labels-idx1-ubyte', { 3 }, function(i) return i + 8 end)
    ok, err = pcall(data.mnist, d, 'test')
    assert.is_false(ok)
    assert.matches('labels must be digits 0..9, found 9..11', err, 1, true)
    write_idx(d .. '/t10k-labels-idx1-ubyte', { 3 }, function(i) return i end)
    local ds = data.mnist(d, 'test')
    -- the IDX reader's problems reach the caller naming the file
    local f = assert(io.open(d .. '/t10k-images-idx3-ubyte', 'wb'))
    f:write(string.pack('>I4I4I4I4', 0x803, 3, 28, 28), string.rep('\0', 100))
    f:close()
    ok, err = pcall(data.mnist, d, 'test')
    assert.is_false(ok)
    assert.matches('^[^\n]-:%d+: data%.mnist: read_idx: ' .. d:gsub('%p', '%%%0')
      .. '/t10k%-images%-idx3%-ubyte: truncated', err)
    write_idx(d .. '/t10k-images-idx3-ubyte', { 3, 28, 28 }, function(i) return i % 256 end)
    f = assert(io.open(d .. '/t10k-labels-idx1-ubyte.gz', 'wb'))
    f:write('not gzip, not IDX')
    f:close()
    ok, err = pcall(data.mnist, d, 'test')
    assert.is_false(ok)
    assert.matches(d .. '/t10k-labels-idx1-ubyte.gz: bad magic', err, 1, true)
    os.remove(d .. '/t10k-labels-idx1-ubyte.gz')
    assert.are.same({ 2, 3, 4 }, ds.y:totable())
    assert.is_true(math.abs(ds.x[1][2]:item() - 2 / 255) < 1e-7)
    os.execute('rm -rf ' .. d)
  end)
end)

describe('scripts/fetch_data.sh', function()
  it('puts MNIST into DEST/mnist from a local copy (GPUBP_SHARED_MNIST), loadable by data.mnist', function()
    local source = mnist_dir()
    local d = tmpdir()
    local cmd = "GPUBP_SHARED_MNIST='" .. source .. "' scripts/fetch_data.sh --mnist-only " .. d
    local p = assert(io.popen(cmd .. ' 2>&1'))
    local out = p:read('a')
    assert.is_true(p:close(), out)
    assert.matches('MNIST copied from', out, 1, true)
    local ds = data.mnist(d .. '/mnist', 'test')
    assert.are.same(data.mnist(source, 'test').x.shape, ds.x.shape)
    p = assert(io.popen(cmd .. ' 2>&1'))
    out = p:read('a')
    p:close()
    assert.matches('MNIST already in', out, 1, true)
    os.execute('rm -rf ' .. d)
  end)
end)

describe('data.DataLoader', function()
  local ds = { x = gb.arange(1, 11):reshape(10, 1), y = gb.arange(1, 11):long() }

  local function collect(loader)
    local sizes, ys = {}, {}
    for x, y in loader() do
      sizes[#sizes + 1] = x:size(1)
      for _, v in ipairs(y:totable()) do ys[#ys + 1] = v end
      assert.are.same(x:select(2, 1):long():totable(), y:totable())
    end
    return sizes, ys
  end

  it('counts batches and keeps or drops the last partial one', function()
    local l = data.DataLoader(ds, { batch_size = 3 })
    assert.are.equal(4, #l)
    local sizes, ys = collect(l)
    assert.are.same({ 3, 3, 3, 1 }, sizes)
    assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, ys)
    l = data.DataLoader(ds, { batch_size = 3, drop_last = true })
    assert.are.equal(3, #l)
    sizes = collect(l)
    assert.are.same({ 3, 3, 3 }, sizes)
    assert.are.equal(10, #data.DataLoader(ds))
  end)

  it('iterates with loader:iter() as well as loader()', function()
    local n = 0
    for x, y in data.DataLoader(ds, { batch_size = 5 }):iter() do
      n = n + 1
      assert.are.same({ 5, 1 }, x.shape)
      assert.are.same({ 5 }, y.shape)
    end
    assert.are.equal(2, n)
  end)

  it('shuffles into a permutation, reproducibly under manual_seed', function()
    local l = data.DataLoader(ds, { batch_size = 4, shuffle = true })
    gb.manual_seed(42)
    local _, a = collect(l)
    local _, b = collect(l)
    gb.manual_seed(42)
    local _, c = collect(l)
    assert.are.same(a, c)
    assert.are_not.same(a, b)
    local sorted = { table.unpack(a) }
    table.sort(sorted)
    assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, sorted)
    assert.are_not.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, a)
  end)

  it('rejects datasets with fields of different lengths', function()
    assert.has_error(function()
      data.DataLoader({ x = gb.zeros(3, 2), y = gb.zeros(4) }, { batch_size = 2 })
    end, 'DataLoader: dataset fields have different lengths (x: 3, y: 4)')
    assert.has_error(function() data.DataLoader(ds, { batch_size = 0 }) end,
      'DataLoader: batch_size must be a positive integer, got 0')
  end)
end)

describe('data.DataLoader prefetch', function()
  -- 257 rows: 8 full batches of 32 and a last one of 1; y numbers the rows, so every batch
  -- says which rows it should hold. `w` is a transposed view: not gathered ahead.
  local function dataset()
    gb.manual_seed(7)
    return {
      x = gb.randn(257, 3, 5), y = gb.arange(1, 258):long(), z = gb.randn(257),
      w = gb.randn(2, 257):t(),
    }
  end
  local fields = { 'x', 'y', 'z', 'w' }

  local function epochs(ds, prefetch, n)
    local l = data.DataLoader(ds, { batch_size = 32, shuffle = true, prefetch = prefetch,
                                    fields = fields })
    gb.manual_seed(11)
    local out = {}
    for e = 1, n do
      for x, y, z, w in l() do out[#out + 1] = { x, y, z, w } end
    end
    return out
  end

  it('yields the batches of prefetch=false, in the same order, with the right rows', function()
    local ds = dataset()
    local ahead, asked = epochs(ds, true, 2), epochs(ds, false, 2)
    assert.are.equal(18, #ahead)
    assert.are.equal(#asked, #ahead)
    local seen = {}
    for i, b in ipairs(ahead) do
      for f = 1, 4 do
        assert.are.same(asked[i][f].shape, b[f].shape)
        assert.are.equal(asked[i][f].dtype, b[f].dtype)
        assert.are.same(asked[i][f]:totable(), b[f]:totable())
      end
      local rows = b[2]
      assert.are.same(ds.x:index_select(1, rows):totable(), b[1]:totable())
      assert.are.same(ds.z:index_select(1, rows):totable(), b[3]:totable())
      if i <= 9 then for _, r in ipairs(rows:totable()) do seen[r] = (seen[r] or 0) + 1 end end
    end
    assert.are.same({ 32, 3, 5 }, ahead[1][1].shape)
    assert.are.same({ 1, 3, 5 }, ahead[9][1].shape)
    for r = 1, 257 do assert.are.equal(1, seen[r], 'row ' .. r) end
    -- the two epochs differ (a new permutation each), the prefetch option is kept
    assert.are_not.same(ahead[1][2]:totable(), ahead[10][2]:totable())
    assert.is_true(data.DataLoader(ds).prefetch)
    assert.is_false(data.DataLoader(ds, { prefetch = false }).prefetch)
  end)

  it('keeps memory flat over epochs, and frees an epoch left half-way', function()
    local ds = dataset()
    local l = data.DataLoader(ds, { batch_size = 32, shuffle = true, fields = fields })
    local function settle()
      collectgarbage('collect')
      collectgarbage('collect')
      return gb.memory_stats().allocated
    end
    for _ in l() do end
    local base = settle()
    for _ = 1, 5 do for _ in l() do end end
    assert.are.equal(base, settle())
    for k = 1, 3 do -- leave after k batches: a gather of the next batch is in flight
      local i = 0
      for _ in l() do
        i = i + 1
        if i == k then break end
      end
      assert.are.equal(base, settle())
    end
  end)

  it('raises a failure while preparing a batch at the user\'s line, naming batch and field',
    function()
      -- x closed during batch 2: prefetch already holds batch 3 (gathered during batch 2) and
      -- fails on batch 4, prefetch=false on batch 3
      for _, case in ipairs({ { true, 4 }, { false, 3 } }) do
        local ds = { x = gb.randn(50, 4), y = gb.arange(1, 51):long() }
        local l = data.DataLoader(ds, { batch_size = 10, shuffle = true, prefetch = case[1] })
        local seen, line = 0, nil
        local ok, err = pcall(function()
          line = debug.getinfo(1, 'l').currentline + 1
          for _ in l() do -- the error's line
            seen = seen + 1
            if seen == 2 then do local c <close> = ds.x end end -- luacheck: ignore
          end
        end)
        assert.is_false(ok)
        assert.are.equal(string.format("tests/lua/data_spec.lua:%d: DataLoader: batch %d, field "
          .. "'x': bad argument #1 to 'index' (tensor was closed)", line, case[2]),
          tostring(err):match('tests/lua/data_spec%.lua:.*'))
        assert.are.equal(case[2] - 1, seen)
        local n = 0
        for _ in data.DataLoader({ x = gb.randn(50, 4), y = ds.y }, { batch_size = 10,
          shuffle = true, prefetch = case[1] })() do n = n + 1 end
        assert.are.equal(5, n)
      end
    end)

  it('gb._gather_rows checks its row numbers and hands a batch over once', function()
    local x = gb.arange(1, 13):reshape(4, 3)
    local job = gb._gather_rows(x, gb.tensor({ 4, 1, 2 }, { dtype = 'int64' }), 2, 2)
    local b = job:wait()
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, b:totable())
    assert.has_error(function() job:wait() end, 'gather_rows: this batch was already taken')
    assert.has_error(function()
      gb._gather_rows(x, gb.tensor({ 1, 5 }, { dtype = 'int64' }), 1, 2)
    end, 'gather_rows: row number 5 at position 2 is out of range 1..4')
    assert.has_error(function()
      gb._gather_rows(x, gb.tensor({ 1, 2 }, { dtype = 'int64' }), 2, 2)
    end, 'gather_rows: 2 rows from position 2 do not fit the 2 row numbers')
    assert.is_false(gb._can_gather_rows(x:t()))
    assert.is_true(gb._can_gather_rows(x))
    local empty = gb._gather_rows(x, gb.tensor({ 1 }, { dtype = 'int64' }), 1, 0):wait()
    assert.are.same({ 0, 3 }, empty.shape)
  end)
end)
