-- run_spec.lua — runs one gpu-labelled spec: `gpubp tests/gpu/run_spec.lua SPEC.lua`.
-- Exits 77 (ctest's "skipped") when no CUDA device is usable, so GPU-less machines skip
-- rather than fail. With busted installed it runs the spec under busted (TAP output);
-- otherwise (a bare GPU machine) a small built-in runner provides describe/it/assert.

local gb = require('gpubp')
local spec = arg[1]
if not spec then
  io.stderr:write('usage: gpubp tests/gpu/run_spec.lua SPEC.lua\n')
  os.exit(2)
end

if spec:match('run_spec%.lua$') then
  print('skip: run_spec.lua is the harness, not a spec')
  os.exit(77)
end

if not (gb.cuda and gb.cuda.is_available()) then
  local why = gb.cuda and gb.cuda.why_unavailable() or 'no gb.cuda in this build'
  print('skip: ' .. spec .. ': CUDA not available (' .. tostring(why) .. ')')
  os.exit(77)
end

-- The gpubp executable (specs start it again to run scripts): lowest index of `arg`.
local i = -1
while arg[i - 1] do i = i - 1 end
GPUBP_EXE = arg[i]

local has_busted = pcall(require, 'busted.runner')
if has_busted then
  arg = { [0] = 'busted', '--output=TAP', spec }
  require('busted.runner')({ standalone = false })
  return
end

-- ---- minimal runner: describe / it / pending, assert.is_true / is_false / equal / near ----
local failures, passed, path = 0, 0, {}

local function fmt(msg, ...) return select('#', ...) > 0 and string.format(msg, ...) or msg end

local A = {}
function A.is_true(v, msg) if v ~= true then error(msg or ('expected true, got ' .. tostring(v)), 2) end end
function A.is_false(v, msg) if v ~= false then error(msg or ('expected false, got ' .. tostring(v)), 2) end end
function A.truthy(v, msg) if not v then error(msg or ('expected a truthy value, got ' .. tostring(v)), 2) end end
function A.equal(want, got, msg)
  if want ~= got then error(msg or fmt('expected %s, got %s', tostring(want), tostring(got)), 2) end
end
function A.near(want, got, tol, msg)
  if math.abs(want - got) > tol then
    error(msg or fmt('expected %s +/- %s, got %s', tostring(want), tostring(tol), tostring(got)), 2)
  end
end
-- deep equality of plain values and tables (busted's are.same, for totable() results)
local function same(a, b)
  if type(a) ~= 'table' or type(b) ~= 'table' then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
function A.same(want, got, msg)
  if not same(want, got) then error(msg or 'expected equal tables (deep comparison)', 2) end
end
A.are = { equal = A.equal, near = A.near, same = A.same }
A.is = { ['true'] = A.is_true, ['false'] = A.is_false }
setmetatable(A, { __call = function(_, v, msg, ...) if not v then error(msg or 'assertion failed', 2) end return v, msg, ... end })
assert = A

function describe(name, body)
  path[#path + 1] = name
  body()
  path[#path] = nil
end

function it(name, body)
  local full = table.concat(path, ' ') .. ' ' .. name
  local ok, err = xpcall(body, debug.traceback)
  if ok then
    passed = passed + 1
    print('ok ' .. (passed + failures) .. ' - ' .. full)
  else
    failures = failures + 1
    print('not ok ' .. (passed + failures) .. ' - ' .. full)
    print('# ' .. tostring(err):gsub('\n', '\n# '))
  end
end

function pending(name) print('ok - ' .. name .. ' # SKIP pending') end

local chunk, err = loadfile(spec)
if not chunk then
  io.stderr:write(err, '\n')
  os.exit(1)
end
chunk()
print(string.format('1..%d', passed + failures))
os.exit(failures == 0 and 0 or 1)
