"""cnn_step_torch.py — the PyTorch twin of scripts/bench/cnn_step.lua: CPU time per training
step of the CNN recipe's model on one fixed batch of 64 (no data loading).

  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/bench/cnn_step_torch.py [steps=60] [threads=2]
"""
import sys, time, resource, torch, torch.nn as nn
torch.manual_seed(1)
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 60
model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
x = torch.randn(64, 1, 28, 28); y = torch.arange(64) % 10
def step():
    l = loss_fn(model(x), y); opt.zero_grad(); l.backward(); opt.step(); l.item()
for _ in range(5): step()
t0, w0 = time.process_time(), time.perf_counter()
for _ in range(steps): step()
c, w = time.process_time() - t0, time.perf_counter() - w0
print('%d steps: %.3f ms CPU/step, %.3f ms wall/step, %.1f us CPU/sample' % (steps, c*1e3/steps, w*1e3/steps, c*1e6/(steps*64)))
