-- progress_tty.lua — run by progress.pty on a terminal: gb.utils.progress must redraw one
-- line in place (no newline between draws) and end it with a newline on close.
local p = gb.utils.progress(3, { desc = 'tty-demo', interval = 0 })
for i = 1, 3 do p:update(1, { loss = i / 2 }) end
p:close()
print('after-close')
