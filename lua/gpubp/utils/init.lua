-- utils/init.lua — gb.utils: the trainer's toolkit for any loop: progress meters, the
-- scalar Logger with SVG charts, and grid_search over training runs.

local Progress = require('gpubp.utils.progress')

return {
  -- gb.utils.progress(...) builds a Progress
  progress = function(src, opts) return Progress(src, opts) end,
  Progress = Progress,
  Logger = require('gpubp.utils.Logger'),
  grid_search = require('gpubp.utils.grid_search'),
}
