-- support.lua — helpers shared by the specs (loaded with dofile, not a spec itself).
local gb = require 'gpubp'
local M = {}

function M.exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() end
  return f ~= nil
end

-- The MNIST directory: $GPUBP_DATA or data/mnist (scripts/test.sh runs scripts/fetch_data.sh).
function M.mnist_dir()
  for _, d in ipairs({ os.getenv('GPUBP_DATA') or '', 'data/mnist' }) do
    if d ~= '' and M.exists(d .. '/train-labels-idx1-ubyte.gz') then return d end
  end
  error('MNIST not found in data/mnist: run scripts/fetch_data.sh')
end

-- The gpubp command: the host running this spec, or $GPUBP_CLI when the host is stock lua5.4
-- (the lua54_* tests), so that specs can start fresh gpubp processes.
function M.gpubp_binary()
  if os.getenv('GPUBP_CLI') then return os.getenv('GPUBP_CLI') end
  local i = -1
  while arg[i - 1] do i = i - 1 end
  return arg[i]
end

-- s as one single-quoted shell word
function M.quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Fails (at the caller's line) naming the first element of `got` that differs from PyTorch's
-- `want` by more than 1e-4 relative + 1e-5 absolute; shapes must match exactly.
function M.assert_close_1e4(what, got, want)
  local gs, ws = got.shape, want.shape -- (plain error: luassert is the spec's, not ours)
  local same = #gs == #ws
  for d = 1, #ws do same = same and gs[d] == ws[d] end
  if not same then
    error(string.format('%s: shape %s, PyTorch %s', what, tostring(gs), tostring(ws)), 2)
  end
  local a, e = got:contiguous():view(-1):totable(), want:contiguous():view(-1):totable()
  for i = 1, #e do
    if math.abs(a[i] - e[i]) > 1e-4 * math.abs(e[i]) + 1e-5 then
      error(string.format('%s, element %d: gpubp %.9g, PyTorch %.9g', what, i, a[i], e[i]), 2)
    end
  end
end

-- A fixture case written by PyTorch (tests/fixtures/*/make_*.py): dir .. name .. '.safetensors'
-- split by key prefix into params, inputs (in.), outputs (out.) and gradients (grad.), plus
-- the file's metadata.
function M.load_torch_case(dir, name)
  local t, meta = gb.load(dir .. name .. '.safetensors')
  local params, inputs, outs, grads = {}, {}, {}, {}
  for k, v in pairs(t) do
    if k:match('^in%.') then inputs[k:sub(4)] = v
    elseif k:match('^out%.') then outs[k:sub(5)] = v
    elseif k:match('^grad%.') then grads[k:sub(6)] = v
    else params[k] = v end
  end
  return params, inputs, outs, grads, meta
end

-- The inputs of the recorded fixtures (tests/fixtures/*/make_*.py make theirs the same way):
-- a float32 tensor of the given shape holding sin(a * i + b) for i = 0, 1, ... in row-major order.
function M.fill(shape, a, b)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  local v = {}
  for i = 0, n - 1 do v[i + 1] = math.sin(a * i + b) end
  return gb.tensor(v):view(shape)
end

-- t's elements as a flat Lua list, row-major
function M.flat(t) return t:reshape(t:numel()):totable() end

-- Fails (at the caller's line) naming the first element of the list `got` that differs from
-- the recorded list `want` by more than tol (default 1e-5) times max(1, |want|).
function M.assert_list_close(got, want, what, tol)
  tol = tol or 1e-5
  if #got ~= #want then error(string.format('%s: %d values, expected %d', what, #got, #want), 2) end
  for i = 1, #want do
    if not (math.abs(got[i] - want[i]) <= tol * math.max(1, math.abs(want[i]))) then
      error(string.format('%s[%d]: got %.8g, expected %.8g', what, i, got[i], want[i]), 2)
    end
  end
end

return M
