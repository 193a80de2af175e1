-- utils/init.lua — gb.utils: the trainer's toolkit for any loop: progress meters, the
-- scalar Logger with SVG charts, and grid_search over training runs (each loaded on first use).

local lazy = require('gpubp.lazy')

return lazy({}, {
  -- gb.utils.progress(...) builds a Progress
  progress = function()
    local Progress = require('gpubp.utils.progress')
    return function(src, opts) return Progress(src, opts) end
  end,
  Progress = 'gpubp.utils.progress',
  Logger = 'gpubp.utils.Logger',
  grid_search = 'gpubp.utils.grid_search',
})
