-- api_examples_spec.lua — every ```lua block of docs/api.md, docs/training.md,
-- docs/distributed.md and README.md runs, each in a fresh environment (its own _ENV over the
-- globals the gpubp CLI sets, the generator seeded with 0, the runtime's settings put back
-- after it), and prints what its `-->` comments say; a failure names the doc, the line and
-- the error.
--
-- Markers (docs/api.md's preface repeats them):
--   ```lua norun: <reason>   a block that cannot run here (needs a GPU, MPI, a file the user
--                            has, a terminal, or shows a whole program); it is still compiled.
--   `--> text`               (a comment) a line the block printed is `text`; or starts with
--                            it where `text` ends in `...` or `...)` (left out of the
--                            comparison) or leaves a parenthesis open (`--> tensor([3., 3.]`:
--                            a tensor's values, not its shape and dtype).
--   ```lua context          (at most one per doc) runs before each block of that doc, in the
--                            block's environment: the stand-ins (`net`, `x`, `opt`, ...) that
--                            short examples use without defining.
-- Any other block must run: a name it uses that neither it nor the context defines is an
-- error (`uses the undefined global 'net'`), not a skip.
-- Run: build/gpubp /usr/bin/busted tests/lua/api_examples_spec.lua (from the source tree), or
-- through ctest, which runs it in a scratch folder of its own (GPUBP_SOURCE_DIR names the
-- source tree; tests/CMakeLists.txt says why).

local gb = require 'gpubp'

local SOURCE = os.getenv('GPUBP_SOURCE_DIR')
local DOCS = { 'docs/api.md', 'docs/training.md', 'docs/distributed.md', 'README.md' }

-- {file=, line= (of the first code line), info= (text after ```lua), code=} per block
local function blocks_of(path)
  local f = assert(io.open(SOURCE and SOURCE .. '/' .. path or path, 'rb'))
  local text = f:read('a')
  f:close()
  local out, cur, n = {}, nil, 0
  for line in (text .. '\n'):gmatch('(.-)\r?\n') do
    n = n + 1
    if cur then
      if line:match('^```%s*$') then
        cur.code = table.concat(cur.lines, '\n') .. '\n'
        out[#out + 1] = cur
        cur = nil
      else
        cur.lines[#cur.lines + 1] = line
      end
    else
      local info = line:match('^```lua(.*)$')
      if info then
        cur = { file = path, line = n + 1, info = info:match('^%s*(.-)%s*$'), lines = {} }
      end
    end
  end
  assert(cur == nil, path .. ': a ```lua block is not closed')
  return out
end

-- the reason of a `norun: <reason>` info string, or nil; any other info string is an error
local function norun_reason(b)
  if b.info == '' or b.info == 'context' then return nil end
  local reason = b.info:match('^norun:%s*(%S.*)$')
  assert(reason, string.format('%s:%d: unknown info string ```lua %s (expected "norun: <reason>")',
    b.file, b.line - 1, b.info))
  return reason
end

-- why b is not run: its norun reason, or, in the sanitizer build (GPUBP_SKIP_MPI_EXAMPLES, set
-- by tests/CMakeLists.txt: Open MPI's singleton init leaks there), its use of gb.distributed
local function skip_reason(b)
  local r = norun_reason(b)
  local mpi = b.code:find('gb.distributed.', 1, true)
  if not r and mpi and os.getenv('GPUBP_SKIP_MPI_EXAMPLES') then
    r = 'starts MPI (GPUBP_SKIP_MPI_EXAMPLES)'
  end
  return r
end

-- the `--> text` comments of a block: {text=, prefix=} where a printed line must equal text,
-- or (prefix: the comment ends in `...` or `...)`, or leaves a parenthesis open) start with it
local function expectations(code)
  local want = {}
  for w in code:gmatch('%-%->%s*([^\n]-)%s*\n') do
    local cut = w:gsub('[,%s]*%.%.%.%)?$', '')
    -- a tensor's comment may stop after its values: `--> tensor([3., 3.]`
    local open = select(2, cut:gsub('%(', '')) > select(2, cut:gsub('%)', ''))
    if cut ~= '' then want[#want + 1] = { text = cut, prefix = cut ~= w or open } end
  end
  return want
end

local function shows(printed, want)
  for line in (printed .. '\n'):gmatch('(.-)\n') do
    if line == want.text or (want.prefix and line:sub(1, #want.text) == want.text) then
      return true
    end
  end
  return false
end

-- the runtime's settings that a block may change; restored after each one
local function settings()
  return {
    threads = gb.get_num_threads(),
    device = gb.get_default_device(),
    dtype = gb.get_default_dtype(),
  }
end

local function restore(s)
  gb.set_grad_enabled(true)
  gb.set_detect_anomaly(false)
  gb.set_default_device(s.device)
  gb.set_default_dtype(s.dtype)
  gb.set_num_threads(s.threads)
end

local function listing()
  local names, p = {}, io.popen('ls -A')
  for n in p:lines() do names[n] = true end
  p:close()
  return names
end

-- b's code as a chunk whose line numbers are the doc's, in env
local function chunk(b, env)
  return load(string.rep('\n', b.line - 1) .. b.code, '=' .. b.file, 't', env)
end

-- Runs one block (after the context block ctx, if any): nil, or the failure as text (with
-- its doc line).
local function run_block(b, ctx)
  local out = {}
  local function capture(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    out[#out + 1] = table.concat(parts, '\t', 1, parts.n)
  end
  local env = setmetatable({}, { __index = function(_, k)
    local v = _G[k]
    if v == nil then error("uses the undefined global '" .. tostring(k) .. "'", 2) end
    return v
  end })
  local fn, cerr = chunk(b, env)
  if not fn then return 'does not compile: ' .. cerr end
  if skip_reason(b) then return nil end
  local saved = settings()
  gb.manual_seed(0)
  local real_print = print
  _G.print = capture -- also where library code (help) prints
  local function traceback(e) return tostring(e) end
  local ok, err = true, nil
  if ctx then
    ok, err = xpcall(assert(chunk(ctx, env)), traceback)
    if not ok then err = 'in the context block: ' .. err end
  end
  if ok then ok, err = xpcall(fn, traceback) end
  _G.print = real_print
  restore(saved)
  if not ok then return 'raised ' .. err end
  local printed = table.concat(out, '\n')
  for _, want in ipairs(expectations(b.code)) do
    if not shows(printed, want) then
      return string.format('printed\n      %s\n    where a --> comment says\n      %s%s',
        (printed:gsub('\n', '\n      ')), want.text, want.prefix and ' ...' or '')
    end
  end
  return nil
end

describe('the docs\' lua examples', function()
  local all, written = {}, {}
  for _, path in ipairs(DOCS) do
    local ctx, list = nil, blocks_of(path)
    for _, b in ipairs(list) do
      if b.info == 'context' then
        assert(ctx == nil, b.file .. ':' .. b.line .. ': a second context block')
        ctx = b
      end
    end
    for _, b in ipairs(list) do
      if b ~= ctx then all[#all + 1] = { b = b, ctx = ctx } end
      for n in b.code:gmatch("'([%w_%-%.]+)'") do written[n] = true end
    end
  end

  it('run, and print what their --> comments say', function()
    -- in a scratch folder (ctest), what an earlier run left must not let a block pass
    local function clear_scratch()
      for n in pairs(listing()) do
        if n ~= 'data' then os.remove(n) end
      end
    end
    if SOURCE then clear_scratch() end
    local before = listing()
    local bad, ran, skipped = {}, 0, {}
    local slow = {}
    for _, e in ipairs(all) do
      local b = e.b
      local t0 = gb.time()
      local err = run_block(b, e.ctx)
      slow[#slow + 1] = { s = gb.time() - t0, at = b.file .. ':' .. b.line }
      if skip_reason(b) then
        skipped[#skipped + 1] = string.format('%s:%d (%s)', b.file, b.line, skip_reason(b))
      else
        ran = ran + 1
      end
      if err then bad[#bad + 1] = string.format('%s:%d: %s', b.file, b.line, err) end
    end
    -- files the examples wrote (Logger('run.csv'), gb.save('model.safetensors'), ...), and
    -- only those: other tests may be writing in this folder at the same time
    for n in pairs(listing()) do
      if not before[n] and written[n] then os.remove(n) end
    end
    table.sort(slow, function(p, q) return p.s > q.s end)
    io.stderr:write(string.format('api_examples: %d blocks ran, %d not run:\n  %s\n', ran,
      #skipped, table.concat(skipped, '\n  ')))
    io.stderr:write(string.format('slowest: %s %.2f s, %s %.2f s, %s %.2f s\n', slow[1].at,
      slow[1].s, slow[2].at, slow[2].s, slow[3].at, slow[3].s))
    assert(#bad == 0, #bad .. ' of ' .. #all .. ' examples failed:\n  '
      .. table.concat(bad, '\n  '))
    assert.is_true(ran >= 250 or (os.getenv('GPUBP_SKIP_MPI_EXAMPLES') and ran >= 230),
      'only ' .. ran .. ' examples ran')
  end)

  it('fail a wrong --> comment, an error and an undefined name, at the doc line', function()
    local function one(code, line, info, ctx)
      return run_block({ file = 'x.md', line = line, info = info or '', code = code }, ctx)
    end
    assert.is_nil(one('print(gb.ones(2):sum():item())   --> 2\n', 5))
    assert.is_truthy(one('print(1 + 1)   --> 3\n', 5)
      :find('printed\n      2\n    where a --> comment says\n      3', 1, true))
    assert.is_truthy(one('local a = 1\nerror("boom")\n', 7):find('raised x.md:8: boom', 1, true))
    assert.is_truthy(one('print(net)\n', 3)
      :find("raised x.md:3: uses the undefined global 'net'", 1, true))
    assert.is_nil(one('error("x")\n', 1, 'norun: needs a GPU'))
    assert.is_truthy(one('end\n', 1, 'norun: x'):find('does not compile', 1, true))
    assert.is_false(pcall(one, 'print(1)\n', 1, 'nrun: x')) -- a misspelt marker is no skip
    local ctx = { file = 'x.md', line = 1, info = 'context', code = 'z = gb.ones(3)\n' }
    assert.is_nil(one('print(z:sum():item())   --> 3\n', 9, '', ctx))
    assert.is_truthy(one('print(1)\n', 9, '', { file = 'x.md', line = 2, code = 'error("c")\n' })
      :find('raised in the context block: x.md:2: c', 1, true))
    assert.is_truthy(one('print(z)\n', 9):find("undefined global 'z'", 1, true)) -- env is fresh
    assert.are.same({ { text = 'tensor([0., 1.]', prefix = true }, { text = '3', prefix = false } },
      expectations('f() --> tensor([0., 1.], ...)\nx --> 3\n'))
    assert.is_truthy(one('print(13)   --> 1\n', 1):find('comment says\n      1', 1, true))
    assert.is_nil(one('print(13)   --> 1...\n', 1))
  end)
end)
