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

return M
