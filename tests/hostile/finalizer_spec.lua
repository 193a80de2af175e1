-- finalizer_spec.lua — issue 19, class 4: Lua finalizers never run inside an op. Memory
-- pressure seen by the allocator only asks for a collection, which the bindings run at their
-- next safe point (before they take any tensor pointer); a tensor closed from a finalizer is
-- released at the next safe point; a backward started while one runs is refused. Lua's own
-- collector is stopped in these cases so that only the runtime's collections run finalizers.
local gb = require 'gpubp'

local function mib(n) return n * 1024 * 1024 end

describe('finalizers and ops', function()
  after_each(function() collectgarbage('restart') end)

  it('a finalizer that closes an op input cannot free it under the op', function()
    local a = gb.randn(256, 256)
    local want = a:matmul(a):sum():item()
    local ran = false
    collectgarbage()
    collectgarbage('stop')
    setmetatable({}, { __gc = function()
      ran = true
      local c <close> = a -- closes `a` when the finalizer returns
    end })
    local good, closed = 0, 0
    for _ = 1, 400 do -- each product allocates 256 KiB: the allocator soon asks for a GC
      local ok, r = pcall(gb.matmul, a, a)
      if ok then
        assert.are.near(want, r:sum():item(), 1e-3 * math.abs(want) + 1e-3)
        good = good + 1
      else
        assert.is_truthy(tostring(r):find('tensor was closed', 1, true), tostring(r))
        closed = closed + 1
      end
      if ran and closed > 0 then break end
    end
    collectgarbage('restart')
    assert.is_true(ran, 'the finalizer never ran: no collection was requested')
    assert.is_true(good > 0 and closed > 0, ('%d good, %d refused'):format(good, closed))
    assert.are.equal(6, (gb.ones(2, 3) * 1):sum():item())
  end)

  it('a finalizer that calls backward does not run inside the backward', function()
    local x = gb.randn(512, 512, { requires_grad = true })
    local y = x
    for _ = 1, 30 do y = y * 1.5 end -- 30 nodes of 1 MiB: the backward allocates ~30 MiB
    local loss = y:sum()
    gb.memory_stats() -- a safe point: any pending collection runs now, before arming
    collectgarbage()
    collectgarbage('stop')
    local fin_ok, fin_err, during
    local backward_running = true
    setmetatable({}, { __gc = function()
      during = backward_running
      fin_ok, fin_err = pcall(loss.backward, loss)
    end })
    loss:backward()
    backward_running = false
    collectgarbage('restart')
    collectgarbage() -- the finalizer has run by now, at the latest here
    assert.is_false(during, 'the finalizer ran inside backward')
    assert.is_false(fin_ok)
    assert.is_truthy(tostring(fin_err):find('trying to go through the graph a second time', 1, true),
      tostring(fin_err))
    local g = x.grad:view(-1)
    local want = 1.5 ^ 30
    assert.are.near(want, g[1]:item(), want * 1e-5)
    assert.are.near(want, g[512 * 512]:item(), want * 1e-5)
  end)

  it('a backward started while one runs (here from a gradient hook) is refused', function()
    local x = gb.tensor({ 1, 2, 3 }):requires_grad_(true)
    local y = x * x
    local loss = (y * 2):sum()
    local inner_ok, inner_err
    y:register_hook(function(g)
      inner_ok, inner_err = pcall(loss.backward, loss)
      return nil
    end)
    loss:backward()
    assert.is_false(inner_ok)
    assert.is_truthy(tostring(inner_err):find('backward: called while a backward is running', 1, true),
      tostring(inner_err))
    assert.are.same({ 4, 8, 12 }, x.grad:totable()) -- the outer backward is intact
  end)

  it('collections requested under pressure still run: garbage does not pile up', function()
    collectgarbage()
    collectgarbage('stop')
    local base = gb.memory_stats().allocated
    for _ = 1, 300 do local _ = gb.ones(256, 1024) end -- 1 MiB of garbage each
    local grown = gb.memory_stats().allocated - base
    collectgarbage('restart')
    assert.is_true(grown < mib(64), ('%d bytes still held after 300 MiB of garbage'):format(grown))
  end)

  it('a closed tensor reads as closed at once and its bytes go at the next safe point', function()
    collectgarbage()
    local base = gb.memory_stats().allocated
    local keep
    do
      local x <close> = gb.ones(1024, 1024)
      keep = x
      assert.is_true(gb.memory_stats().allocated - base >= mib(4))
    end
    assert.is_false(pcall(gb.sum, keep))
    assert.is_true(gb.memory_stats().allocated - base < mib(1))
  end)
end)
