-- data_spec.lua — gb.data: the MNIST loader on the project's MNIST subset (data/mnist or
-- ../shared/data/mnist; scripts/fetch_data.sh puts it there), its error messages on
-- missing or inconsistent files, and the DataLoader's batching and seeded shuffling.
-- Run: build/gpubp /usr/bin/busted tests/lua/data_spec.lua

local gb = require('gpubp')
local data = gb.data

local support = dofile('tests/lua/support.lua')
local exists, mnist_dir = support.exists, support.mnist_dir

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

  it('loads the train split as (N, 784) floats in [0, 1] and labels 1..10', function()
    local ds = data.mnist(dir, 'train')
    assert.are.same({ 8000, 784 }, ds.x.shape)
    assert.are.same({ 8000 }, ds.y.shape)
    assert.are.equal('float32', ds.x.dtype)
    assert.are.equal('int64', ds.y.dtype)
    assert.are.equal(0, ds.x:min():item())
    assert.are.equal(1, ds.x:max():item())
    assert.are.equal(1, ds.y:min():item())
    assert.are.equal(10, ds.y:max():item())
    -- the first ten digits are 1 0 0 5 4 1 3 6 8 5; the first image's pixels sum to 14685
    assert.are.same({ 2, 1, 1, 6, 5, 2, 4, 7, 9, 6 }, ds.y:narrow(1, 1, 10):totable())
    assert.is_true(math.abs(ds.x[1]:sum():item() - 14685 / 255) < 1e-3)
    -- digit 1 (class 2) appears 927 times
    assert.are.equal(927, ds.y:eq(2):sum():item())
    assert.are.same({ '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' }, ds.classes)
  end)

  it('loads the test split', function()
    local ds = data.mnist(dir, 'test')
    assert.are.same({ 2000, 784 }, ds.x.shape)
    assert.are.same({ 3, 9, 6 }, ds.y:narrow(1, 1, 3):totable())
  end)

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
    assert.matches('^data%.mnist: read_idx: ' .. d:gsub('%p', '%%%0') .. '/t10k%-images%-idx3%-ubyte: truncated', err)
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
  it('puts MNIST into DEST/mnist from the shared copy, loadable by data.mnist', function()
    local shared = os.getenv('GPUBP_SHARED_MNIST') or '../shared/data/mnist'
    if not exists(shared .. '/train-labels-idx1-ubyte.gz') then
      pending('no shared MNIST copy at ' .. shared)
      return
    end
    local d = tmpdir()
    local p = assert(io.popen('scripts/fetch_data.sh --mnist-only ' .. d .. ' 2>&1'))
    local out = p:read('a')
    assert.is_true(p:close(), out)
    assert.matches('MNIST copied from', out, 1, true)
    local ds = data.mnist(d .. '/mnist', 'test')
    assert.are.same({ 2000, 784 }, ds.x.shape)
    p = assert(io.popen('scripts/fetch_data.sh --mnist-only ' .. d .. ' 2>&1'))
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
