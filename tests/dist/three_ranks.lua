-- three_ranks.lua — the header agreement at world size 3 (dist_three_ranks): hand-computed
-- collectives, and a mismatch on rank 3 alone (the all-reduce of the header fields sees it,
-- the gather that follows names rank 3 on every rank), after which the group still works.
-- Run: mpirun --oversubscribe -np 3 build/gpubp --device cpu tests/dist/three_ranks.lua
local gb = require('gpubp')
local d = gb.distributed
d.init({ timeout = 30 })
local r, n = d.rank(), d.world_size()
assert(n == 3, 'run with mpirun -np 3')
local function check(cond, what) if not cond then error('rank ' .. r .. ': ' .. what, 2) end end

local t = gb.tensor({ r, 10 * r })
d.all_reduce(t)
check(t:totable()[1] == 6 and t:totable()[2] == 60, 'sum ' .. table.concat(t:totable(), ','))
local b = d.broadcast(gb.tensor({ r * 7 }), 3)
check(b:item() == 21, 'broadcast from rank 3 gave ' .. b:item())
local g = d.all_gather(gb.tensor({ r }, { dtype = 'int64' }))
check(g[1]:item() == 1 and g[2]:item() == 2 and g[3]:item() == 3, 'all_gather')

-- rank 3 alone differs; ranks 1 and 2 agree with each other
local ok, err = pcall(d.all_reduce, gb.zeros(r == 3 and 5 or 4))
check(not ok, 'a mismatch on rank 3 was not seen')
check(tostring(err):find('does not match across ranks: rank 1 called #%d+ all_reduce%(sum%) '
  .. 'float32 %(4%), rank 3 called #%d+ all_reduce%(sum%) float32 %(5%)') ~= nil, tostring(err))
-- a different op on rank 2 only
ok, err = pcall(d.all_reduce, gb.zeros(2), r == 2 and 'max' or 'sum')
check(not ok and tostring(err):find('rank 2 called #%d+ all_reduce%(max%)') ~= nil, tostring(err))
-- still usable
local u = gb.ones(3)
d.all_reduce(u, 'mean')
check(u:totable()[1] == 1, 'mean after the mismatches')
d.barrier()
print('rank ' .. r .. ' ok')
d.finalize()
