-- gzip_bomb_spec.lua — issue 19, hangs: a small gzip file must not make read_idx or
-- data.mnist inflate gigabytes. The header's declared size is checked first (a documented
-- cap of 1 GiB of data, and no more than deflate's 1032:1 can expand the file to), inflating
-- stops at the declared size, and what follows is counted only up to 64 KiB.
local gb = require 'gpubp'
local H = dofile('tests/hostile/support.lua')

-- IDX header bytes: magic 0x0000TTNN then the dims, big-endian.
local function header(type_code, dims)
  local s = string.pack('>BBBB', 0, 0, type_code, #dims)
  for _, d in ipairs(dims) do s = s .. string.pack('>I4', d) end
  return s
end

-- Writes gzip(header .. payload .. <zeros> zero bytes) to path; returns its size in bytes.
local function write_gz(path, bytes, zeros)
  local raw = path .. '.raw'
  local f = assert(io.open(raw, 'wb'))
  f:write(bytes)
  f:close()
  assert(os.execute(string.format("{ cat '%s'; head -c %d /dev/zero; } | gzip -1 > '%s'", raw,
    zeros or 0, path)))
  os.remove(raw)
  f = assert(io.open(path, 'rb'))
  local size = f:seek('end')
  f:close()
  return size
end

describe('a gzip bomb', function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmdir(dir) end)

  it('declaring more than the 1 GiB cap is refused before inflating', function()
    local path = dir .. '/big.gz'
    write_gz(path, header(0x08, {32768, 65536}), 4096) -- 2^31 data bytes declared
    assert.are.equal('read_idx: ' .. path .. ': the header declares 2147483648 data bytes, '
      .. 'over the limit of 1073741824 (1 GiB)', H.err_of(gb.read_idx, path))
    assert.is_true(H.still_computes())
  end)

  it('declaring more than its compressed size can hold is refused before inflating', function()
    local path = dir .. '/small.gz'
    local size = write_gz(path, header(0x08, {600, 1000, 1000}), 1000) -- 600 MB declared
    assert.is_true(size < 1000)
    assert.are.equal(string.format('read_idx: %s: the header declares 600000000 data bytes, '
      .. 'more than a %d-byte gzip file can hold', path, size), H.err_of(gb.read_idx, path))
    assert.is_true(H.still_computes())
  end)

  it('with a huge tail after the declared data stops inflating after 64 KiB', function()
    local path = dir .. '/tail.gz'
    write_gz(path, header(0x08, {10}), 20 * 1024 * 1024) -- 10 bytes, then 20 MB of zeros
    assert.are.equal('read_idx: ' .. path .. ': trailing garbage: at least 65536 bytes after '
      .. 'the 10 data bytes', H.err_of(gb.read_idx, path, 'int64'))
    assert.is_true(H.still_computes())
  end)

  it('given to data.mnist is the same clean error, naming the file', function()
    write_gz(dir .. '/train-labels-idx1-ubyte.gz', header(0x08, {2}) .. '\1\2')
    local images = dir .. '/train-images-idx3-ubyte.gz'
    local size = write_gz(images, header(0x08, {1000000, 28, 28}), 100)
    assert.are.equal(string.format('data.mnist: read_idx: %s: the header declares 784000000 '
      .. 'data bytes, more than a %d-byte gzip file can hold', images, size),
      H.err_of(gb.data.mnist, dir, 'train'))
    assert.is_true(H.still_computes())
  end)

  it('does not stop an honest gzip file', function()
    local path = dir .. '/ok.gz'
    write_gz(path, header(0x08, {2, 3}) .. '\1\2\3\4\5\6')
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, gb.read_idx(path, 'int64'):totable())
  end)
end)
