-- save_target_spec.lua — issue 19, item 8: gb.save replaces only regular files. Run as root,
-- it used to rename its temporary file over /dev/null. A FIFO, a device node or a directory
-- is refused and left as it was; a symbolic link is followed deliberately: the file it
-- points to is replaced and the link stays (a link to a non-regular file is refused).
local gb = require 'gpubp'
local H = dofile('tests/hostile/support.lua')

local function kind(path) -- what `stat` says, without following a final link
  local p = io.popen("stat -c %F '" .. path .. "'")
  local s = p:read('l')
  p:close()
  return s
end

describe('gb.save onto something that is not a regular file', function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmdir(dir) end)

  it('refuses a FIFO and leaves it a FIFO, without blocking', function()
    local fifo = dir .. '/ckpt.safetensors'
    assert(os.execute("mkfifo '" .. fifo .. "'"))
    assert.are.equal('save: ' .. fifo .. ': not a regular file (it is a FIFO); refusing to '
      .. 'replace it', H.err_of(gb.save, fifo, {w = gb.ones(2)}))
    assert.are.equal('fifo', kind(fifo))
    assert.is_true(H.still_computes())
  end)

  it('refuses a device node and leaves it alone', function()
    -- A node of our own (mknod needs root; elsewhere /dev/null stands in), so that a broken
    -- save can never destroy the system's /dev/null.
    local node = dir .. '/null'
    if not os.execute("mknod '" .. node .. "' c 1 3 2>/dev/null") then node = '/dev/null' end
    assert.are.equal('save: ' .. node .. ': not a regular file (it is a character device); '
      .. 'refusing to replace it', H.err_of(gb.save, node, {w = gb.ones(2)}))
    assert.are.equal('character special file', kind(node))
  end)

  it('refuses a directory', function()
    assert.are.equal('save: ' .. dir .. ': not a regular file (it is a directory); refusing '
      .. 'to replace it', H.err_of(gb.save, dir, {w = gb.ones(2)}))
  end)

  it('refuses a symbolic link to a device or a FIFO, and one that leads nowhere', function()
    local link = dir .. '/null.safetensors'
    assert(os.execute("ln -s /dev/null '" .. link .. "'"))
    assert.are.equal('save: ' .. link .. ': a symbolic link to /dev/null, which is not a '
      .. 'regular file (it is a character device); refusing to replace it',
      H.err_of(gb.save, link, {w = gb.ones(2)}))
    assert.are.equal('symbolic link', kind(link))
    local dangling = dir .. '/gone.safetensors'
    assert(os.execute("ln -s '" .. dir .. "/missing/x' '" .. dangling .. "'"))
    assert.are.equal('save: ' .. dangling .. ': a symbolic link that cannot be followed: '
      .. 'No such file or directory', H.err_of(gb.save, dangling, {w = gb.ones(2)}))
  end)

  it('follows a symbolic link to a regular file: the file is replaced, the link stays', function()
    local real = dir .. '/epoch3.safetensors'
    local link = dir .. '/latest.safetensors'
    assert.is_true(gb.save(real, {w = gb.ones(2)}))
    assert(os.execute("ln -s epoch3.safetensors '" .. link .. "'"))
    assert.is_true(gb.save(link, {w = gb.full({3}, 7)}))
    assert.are.equal('symbolic link', kind(link))
    assert.are.equal('regular file', kind(real))
    assert.are.same({7, 7, 7}, gb.load(real).w:totable())
    assert.are.same({7, 7, 7}, gb.load(link).w:totable())
    local p = io.popen("ls -A '" .. dir .. "'")
    local names = {}
    for l in p:lines() do names[#names + 1] = l end
    p:close()
    table.sort(names)
    assert.are.same({'epoch3.safetensors', 'latest.safetensors'}, names) -- no temporaries left
  end)
end)
