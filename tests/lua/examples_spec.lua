-- examples_spec.lua — every script in scripts/examples/ runs (through the gpubp binary, its
-- output through a pipe) and prints the numbers it promises; a script without a case here
-- fails the suite.
-- Run: build/gpubp /usr/bin/busted tests/lua/examples_spec.lua

local support = dofile('tests/lua/support.lua')

local function gpubp_binary()
  local i = -1
  while arg[i - 1] do i = i - 1 end
  return arg[i]
end

local function run(script, args)
  local cmd = string.format("'%s' scripts/examples/%s %s 2>/dev/null", gpubp_binary(), script, args)
  local p = assert(io.popen(cmd))
  local out = p:read('a')
  local ok, _, code = p:close()
  assert(ok, script .. ' exited with ' .. tostring(code) .. ':\n' .. out)
  return out
end

local tmp = os.tmpname()

-- the char models' --quick runs: the loss must fall from about ln(vocabulary) = 4.74 (a
-- model that learns nothing stays there) to below the byte-unigram level within 30 steps
local function char_model(script)
  return function()
    local out = run(script, '--quick --bench')
    local first = tonumber(out:match('step 1 loss (%S+)'))
    local tr, val = out:match('final train loss (%S+) val loss (%S+)\n')
    assert(first and tr, out)
    assert.is_true(first > 4.3 and first < 5.2, out)
    assert.is_true(tonumber(val) < 3.6, out)
    assert.is_true(tonumber(out:match('BENCH steps_per_s (%S+)')) > 0, out)
    assert.is_truthy(out:find('corpus %d+ bytes, vocabulary %d+'), out)
  end
end

local CASES = {
  ['char_transformer.lua'] = char_model('char_transformer.lua'),
  ['char_lstm.lua'] = char_model('char_lstm.lua'),
  -- the recipes' shared part: a two-file corpus (a .dat file is skipped), sorted by name
  ['text_corpus.lua'] = function()
    local dir = tmp .. '_corpus'
    os.execute("mkdir -p '" .. dir .. "'")
    for name, text in pairs({ b = 'cab', a = 'abca', ['a.dat'] = 'zzzz' }) do
      local f = assert(io.open(dir .. '/' .. name, 'wb'))
      f:write(text)
      f:close()
    end
    local corpus = dofile('scripts/examples/text_corpus.lua')
    local c = corpus.load('spec', dir)
    assert.are.equal('abcacab', c.text)
    assert.are.same({ 3, 7, 6 }, { c.V, c.N, c.n_train })
    local x, y = c.batch_at({ 2, 4 }, 3) -- 'bca' -> 'cac', 'aca' -> 'cab'
    assert.are.same({ { 2, 3, 1 }, { 1, 3, 1 } }, x:totable())
    assert.are.same({ { 3, 1, 3 }, { 3, 1, 2 } }, y:totable())
    assert.are.equal('int64', x.dtype)
    local ok, err = pcall(corpus.load, 'spec', dir .. '/none')
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find('spec: no fortune files in', 1, true))
    os.execute("rm -rf '" .. dir .. "'")
  end,
  ['cnn_fashion.lua'] = function()
    -- --quick: 2,000 training images, one epoch; Debian's dataset-fashion-mnist (setup.sh)
    local out = run('cnn_fashion.lua', '--quick')
    assert.is_truthy(out:find('2000 train / 1000 test images, 421834 parameters', 1, true), out)
    local loss = tonumber(out:match('epoch 1: train loss (%S+),'))
    assert(loss, out)
    assert.is_true(loss < 2.0, out)
    assert.is_true(tonumber(out:match('test accuracy: (%S+)\n$')) > 0.55, out)
  end,
  ['vanishing_gradients.lua'] = function()
    local out = run('vanishing_gradients.lua', '--steps 60 --data ' .. support.mnist_dir())
    local w, r, a = out:match('sigmoid: warnings (%d+), layer%-1/last norm ratio (%S+), test accuracy (%S+)')
    assert(w, out)
    assert.are.equal(60, tonumber(w))
    assert.is_true(tonumber(r) < 1e-3, r)
    assert.is_true(tonumber(a) < 0.3, a)
    w, r, a = out:match('relu%+batchnorm: warnings (%d+), layer%-1/last norm ratio (%S+), test accuracy (%S+)')
    assert(w, out)
    assert.are.equal(0, tonumber(w))
    assert.is_true(tonumber(r) > 1e-2, r)
    assert.is_true(tonumber(a) > 0.8, a)
  end,
  ['lr_find_mnist.lua'] = function()
    local svg = tmp .. '.svg'
    local out = run('lr_find_mnist.lua', '--epochs 1 --plot ' .. svg .. ' --data ' .. support.mnist_dir())
    local s = tonumber(out:match('suggested lr (%S+)'))
    assert(s, out)
    assert.is_true(s > 0.15 and s < 3, out)
    assert.is_truthy(out:find('Total params: 101,770', 1, true), out)
    assert.is_true(tonumber(out:match('test accuracy: (%S+)\n$')) > 0.8, out)
    for _, f in ipairs({ svg, tmp .. '_training.svg' }) do
      local h = assert(io.open(f, 'r'), f)
      assert.is_truthy(h:read('a'):find('</svg>', 1, true))
      h:close()
      os.remove(f)
    end
  end,
}

describe('scripts/examples', function()
  local p = io.popen('ls scripts/examples/*.lua')
  local scripts = {}
  for line in p:lines() do scripts[#scripts + 1] = line:match('[^/]+$') end
  p:close()
  assert.is_true(#scripts >= 2)
  for _, name in ipairs(scripts) do
    it(name, function()
      assert(CASES[name], 'no test case for scripts/examples/' .. name)
      CASES[name]()
    end)
  end
end)
