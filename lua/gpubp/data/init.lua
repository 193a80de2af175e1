-- data/init.lua — gb.data: datasets (mnist, fashion_mnist) and the DataLoader, each loaded on
-- first use (gpubp.lazy).

local errors = require('gpubp.errors')

local data = require('gpubp.lazy')({}, {
  DataLoader = 'gpubp.data.DataLoader',
  mnist = 'gpubp.data.mnist',
})

local FASHION_CLASSES = {
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
  'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
}

-- Fashion-MNIST ships in MNIST's IDX layout and file names; only the class names differ.
function data.fashion_mnist(dir, split)
  local ok, ds = pcall(data.mnist, dir, split)
  if not ok then errors.raise((errors.message(ds):gsub('data%.mnist', 'data.fashion_mnist', 1))) end
  ds.classes = FASHION_CLASSES
  return ds
end

return data
