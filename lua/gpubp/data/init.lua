-- data/init.lua — gb.data: datasets (mnist, fashion_mnist) and the DataLoader.

local errors = require('gpubp.errors')
local mnist = require('gpubp.data.mnist')

local data = {
  DataLoader = require('gpubp.data.DataLoader'),
  mnist = mnist,
}

local FASHION_CLASSES = {
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
  'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
}

-- Fashion-MNIST ships in MNIST's IDX layout and file names; only the class names differ.
function data.fashion_mnist(dir, split)
  local ok, ds = pcall(mnist, dir, split)
  if not ok then errors.raise((errors.message(ds):gsub('data%.mnist', 'data.fashion_mnist', 1))) end
  ds.classes = FASHION_CLASSES
  return ds
end

return data
