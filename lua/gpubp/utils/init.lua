-- utils/init.lua — gb.utils: the trainer's toolkit for any loop: progress meters, the
-- scalar Logger with SVG charts, and grid_search over training runs.

local progress, Progress = require('gpubp.utils.progress')

return {
  progress = progress,
  Progress = Progress,
  Logger = require('gpubp.utils.Logger'),
  grid_search = require('gpubp.utils.grid_search'),
}
