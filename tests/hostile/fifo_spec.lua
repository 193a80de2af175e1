-- fifo_spec.lua — issue 19, hangs: a FIFO given where a file is read blocked forever (open(2)
-- waits for a writer). read_idx, data.mnist and gb.load open without blocking and accept only
-- regular files; gb.save refuses to replace one (save_target_spec.lua). The REPL's history
-- file is tests/hostile/cli_test.sh's part.
local gb = require 'gpubp'
local H = dofile('tests/hostile/support.lua')

describe('a FIFO where a file is expected', function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmdir(dir) end)

  local function mkfifo(path) assert(os.execute("mkfifo '" .. path .. "'")) return path end

  it('is refused by read_idx at once', function()
    local p = mkfifo(dir .. '/labels.gz')
    assert.are.equal('read_idx: ' .. p .. ': not a regular file (it is a FIFO)',
      H.err_of(gb.read_idx, p))
    assert.is_true(H.still_computes())
  end)

  it('is refused by data.mnist, naming the file', function()
    local p = mkfifo(dir .. '/train-labels-idx1-ubyte.gz')
    mkfifo(dir .. '/train-images-idx3-ubyte.gz')
    assert.are.equal('data.mnist: read_idx: ' .. p .. ': not a regular file (it is a FIFO)',
      H.err_of(gb.data.mnist, dir, 'train'))
    assert.is_true(H.still_computes())
  end)

  it('is refused by gb.load (a checkpoint), and a directory or a device too', function()
    local p = mkfifo(dir .. '/ckpt.safetensors')
    assert.are.equal('load: ' .. p .. ': not a regular file (it is a FIFO)', H.err_of(gb.load, p))
    assert.are.equal('load: /dev/null: not a regular file (it is a character device)',
      H.err_of(gb.load, '/dev/null'))
    assert.are.equal('load: ' .. dir .. ': not a regular file (it is a directory)',
      H.err_of(gb.load, dir))
    assert.is_true(H.still_computes())
  end)

  it('behind a symbolic link is refused as well; a link to a regular file reads', function()
    local p = mkfifo(dir .. '/f')
    assert(os.execute("ln -s f '" .. dir .. "/link'"))
    assert.are.equal('read_idx: ' .. dir .. '/link: not a regular file (it is a FIFO)',
      H.err_of(gb.read_idx, dir .. '/link'))
    os.remove(p)
    assert.is_true(gb.save(dir .. '/real.safetensors', {w = gb.ones(2)}))
    assert(os.execute("ln -s real.safetensors '" .. dir .. "/ck'"))
    assert.are.same({1, 1}, gb.load(dir .. '/ck').w:totable())
  end)
end)
