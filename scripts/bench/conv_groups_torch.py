# conv_groups_torch.py — PyTorch twin of scripts/bench/conv_groups.lua: CPU time of one grouped
# 3x3 convolution layer (64 -> 64 channels, padding 1) on (32, 64, 28, 28), forward alone and
# forward + backward, per pass.
#   /usr/bin/python3 scripts/bench/conv_groups_torch.py [groups=64]
import sys
import time

import torch

groups = int(sys.argv[1]) if len(sys.argv) > 1 else 64
torch.manual_seed(1)
c = torch.nn.Conv2d(64, 64, 3, padding=1, groups=groups)
x = torch.randn(32, 64, 28, 28, requires_grad=True)
for _ in range(3):
    c(x).sum().backward()
t0 = time.process_time()
with torch.no_grad():
    for _ in range(10):
        c(x)
tf = (time.process_time() - t0) * 1e3 / 10
t0 = time.process_time()
for _ in range(10):
    c(x).sum().backward()
print('groups %d, torch: forward %.2f ms CPU, forward+backward %.2f ms CPU'
      % (groups, tf, (time.process_time() - t0) * 1e3 / 10))
