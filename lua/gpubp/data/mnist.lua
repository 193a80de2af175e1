-- data/mnist.lua — loads MNIST-format IDX files (MNIST, Fashion-MNIST): images as (N, 784)
-- float32 in [0, 1], labels as (N) int64 classes 1..10 (digit d -> class d + 1).

local errors = require('gpubp.errors')
local gb = require('gpubp.class').gb

local FILES = {
  train = { 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte' },
  test = { 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte' },
}

-- The reader's message names the file and the problem; drop its position (raised again
-- below at the user's line).
local strip_where = errors.message

-- Reads '<dir>/<base>.gz' if it exists, else '<dir>/<base>', as `dtype`: returns the tensor
-- and its path, or nil and the paths tried when neither exists; any other failure raises.
-- The reader itself probes for the files: io.open would block forever on a FIFO, and
-- read_idx refuses anything but a regular file without blocking.
local function read(dir, base, dtype)
  local tried = {}
  for _, path in ipairs({ dir .. '/' .. base .. '.gz', dir .. '/' .. base }) do
    local ok, t = pcall(gb.io.read_idx, path, dtype)
    if ok then return t, path end
    if not tostring(t):find(': cannot open: No such file or directory', 1, true) then
      errors.raise('data.mnist: ' .. strip_where(t))
    end
    tried[#tried + 1] = path
  end
  return nil, table.concat(tried, ' or ')
end

-- mnist(dir, split='train') -> {x =, y =, classes =, n =, files = {images, labels}}
local function mnist(dir, split)
  split = split or 'train'
  if type(dir) ~= 'string' then
    errors.raise('data.mnist: expected a directory path (string), got ' .. type(dir))
  end
  local names = FILES[split]
  if not names then
    errors.raise("data.mnist: split must be 'train' or 'test', got '" .. tostring(split) .. "'")
  end
  dir = dir:gsub('/+$', '')
  local labels, lbl_path = read(dir, names[2], 'int64') -- the small file first
  local images, img_path = read(dir, names[1], 'float32')
  if not images or not labels then
    local missing = {}
    if not images then missing[#missing + 1] = img_path end
    if not labels then missing[#missing + 1] = lbl_path end
    errors.raise('data.mnist: no MNIST ' .. split .. ' files in ' .. dir .. ' (tried '
          .. table.concat(missing, '; ') .. '); run scripts/fetch_data.sh')
  end
  if images:dim() ~= 3 then
    errors.raise(string.format('data.mnist: %s: expected images of shape (N, rows, cols), got (%s)',
      img_path, table.concat(images.shape, ',')))
  end
  if labels:dim() ~= 1 then
    errors.raise(string.format('data.mnist: %s: expected labels of shape (N), got (%s)',
      lbl_path, table.concat(labels.shape, ',')))
  end
  local n = images:size(1)
  if labels:size(1) ~= n then
    errors.raise(string.format('data.mnist: %s has %d images but %s has %d labels',
      img_path, n, lbl_path, labels:size(1)))
  end
  local lo, hi = labels:min():item(), labels:max():item()
  if n > 0 and (lo < 0 or hi > 9) then
    errors.raise(string.format('data.mnist: %s: labels must be digits 0..9, found %d..%d',
      lbl_path, lo, hi))
  end
  local pixels = images:size(2) * images:size(3)
  return {
    x = images:reshape(n, pixels):div_(255), -- in place: the dataset is its largest tensor
    y = labels + 1,
    classes = { '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' },
    n = n,
    files = { img_path, lbl_path },
  }
end

return mnist
