-- support.lua — helpers shared by the specs (loaded with dofile, not a spec itself).
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

return M
