-- bytecode_spec.lua — issue 19, item 6: malformed bytecode crashes Lua, so a script's load,
-- loadfile, dofile and require accept only source text (the CLI flag --allow-bytecode and
-- gpubp_options.allow_bytecode opt in; tests/hostile/cli_test.sh and tests/c/test_os_exit.c
-- cover the script file, stdin, -e and gpubp_dofile).
local H = dofile('tests/hostile/support.lua')

local REFUSED = "attempt to load a binary chunk (mode is 't')"

-- A chunk that would crash the VM if it ran: real bytecode with its code bytes trashed.
local function malformed()
  local bc = string.dump(function(a, b) return a + b end)
  return bc:sub(1, 40) .. string.rep('\255', #bc - 40)
end

describe('bytecode inside a script', function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() H.rmdir(dir) end)

  it('is refused by load, in every mode and from a reader function', function()
    for _, chunk in ipairs({string.dump(function() return 1 end), malformed()}) do
      local f, msg = load(chunk)
      assert.is_nil(f)
      assert.are.equal(REFUSED, msg)
      f, msg = load(chunk, 'x', 'b')
      assert.is_nil(f)
      assert.are.equal(REFUSED, msg)
      f, msg = load(chunk, 'x', 'bt', {})
      assert.are.equal(REFUSED, msg)
      local done = false
      f, msg = load(function() if done then return nil end done = true return chunk end)
      assert.are.equal(REFUSED, msg)
    end
    assert.is_true(H.still_computes())
  end)

  it('is refused by loadfile, dofile and require', function()
    local path = dir .. '/evil.lua'
    local fh = assert(io.open(path, 'wb'))
    fh:write(malformed())
    fh:close()
    local f, msg = loadfile(path)
    assert.is_nil(f)
    assert.are.equal(REFUSED, msg)
    assert.is_nil(loadfile(path, 'b'))
    assert.are.equal(REFUSED, H.err_of(dofile, path))
    local saved = package.path
    package.path = dir .. '/?.lua'
    local ok, err = pcall(require, 'evil')
    package.path = saved
    assert.is_false(ok)
    assert.are.equal("error loading module 'evil' from file '" .. path .. "':\n\t" .. REFUSED,
      (err:gsub('^[^:\n]*:%d+: ', '', 1)))
    assert.is_nil(package.loaded.evil)
    assert.is_true(H.still_computes())
  end)

  it('leaves source text loading as Lua has it', function()
    assert.are.equal(3, load('return 1 + 2')())
    assert.are.equal(7, load('return x', 'env', 't', {x = 7})())
    local nil_env = load('return x', 'env', 't', nil) -- an explicit nil env is kept
    assert.matches("upvalue '_ENV'", H.err_of(nil_env), 1, true)
    local path = dir .. '/good.lua'
    local fh = assert(io.open(path, 'w'))
    fh:write('return {answer = 42}')
    fh:close()
    assert.are.equal(42, loadfile(path)().answer)
    assert.are.equal(42, dofile(path).answer)
    local saved = package.path
    package.path = dir .. '/?.lua'
    local ok, m = pcall(require, 'good')
    package.path = saved
    package.loaded.good = nil
    assert.is_true(ok)
    assert.are.equal(42, m.answer)
    local nf, nmsg = pcall(require, 'no_such_module_anywhere')
    assert.is_false(nf)
    assert.matches("module 'no_such_module_anywhere' not found", nmsg, 1, true)
  end)
end)
