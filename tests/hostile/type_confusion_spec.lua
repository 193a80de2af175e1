-- type_confusion_spec.lua — issue 19, item 9: the debug library can give any userdata the
-- tensor metatable, or a tensor the file metatable. Tensor userdata carry a tag (their size
-- and an address-derived word) checked wherever a tensor is taken, and their second word is
-- NULL, which Lua's io library reads as "closed file".
local gb = require 'gpubp'
local H = dofile('tests/hostile/support.lua')

describe('a file dressed as a tensor', function()
  it('is no tensor to any binding, and the runtime goes on', function()
    local t = gb.ones(2, 3)
    local f = io.tmpfile()
    debug.setmetatable(f, debug.getmetatable(t))
    assert.is_false(gb.is_tensor(f))
    assert.are.equal("bad argument #1 to 'index' (tensor expected, got userdata)",
      H.err_of(function() return f.shape end))
    assert.are.equal("bad argument #1 to 'index' (tensor expected, got userdata)",
      H.err_of(function() return f:sum() end))
    assert.are.equal("bad argument #1 to 'exp' (tensor expected, got userdata)",
      H.err_of(function() return gb.exp(f) end))
    assert.are.equal("bad argument #2 to 'add' (tensor or number expected, got userdata)",
      H.err_of(function() return t + f end))
    assert.are.equal("bad argument #1 to 'matmul' (tensor expected, got userdata)",
      H.err_of(function() return t:matmul(f) end))
    assert.matches("tensor expected, got userdata", H.err_of(function() return tostring(f) end),
      1, true)
    local dir = H.tmpdir()
    assert.are.equal('save: ' .. dir .. "/c.st: value for 'a' is a userdata, expected a tensor",
      H.err_of(gb.save, dir .. '/c.st', {a = f}))
    H.rmdir(dir)
    f = nil
    collectgarbage()
    collectgarbage() -- the file's finalizer is now the tensor one: it must leave the file be
    assert.is_true(H.still_computes())
  end)
end)

describe('a tensor dressed as a file', function()
  it('is a closed file to the io library', function()
    local t = gb.arange(1, 7)
    debug.setmetatable(t, debug.getmetatable(io.stdout))
    assert.are.equal('closed file', io.type(t))
    assert.are.equal('file (closed)', tostring(t))
    assert.are.equal('attempt to use a closed file', H.err_of(function() return t:close() end))
    assert.are.equal('attempt to use a closed file', H.err_of(function() return t:write('x') end))
    assert.are.equal('attempt to use a closed file', H.err_of(function() return t:read('a') end))
    assert.are.equal('attempt to use a closed file', H.err_of(io.output, t))
    assert.are.equal('attempt to use a closed file', H.err_of(io.close, t))
    -- dressed as a file, its tensor is never released (the io finalizer leaves it alone):
    -- give the tensor metatable back so that it is collected (LSan checks this spec)
    debug.setmetatable(t, debug.getmetatable(gb.ones(1)))
    assert.are.same({1, 2, 3, 4, 5, 6}, t:totable())
    t = nil
    collectgarbage()
    assert.is_true(H.still_computes())
  end)
end)
