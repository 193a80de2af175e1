#!/usr/bin/python3
"""text_seeds.py - the character-level recipes over several seeds on both sides: runs
scripts/examples/char_{transformer,lstm}.lua and their PyTorch twins (1 thread) with the same
arguments for seeds 1..N and prints each run's final train / val loss and CPU s/step, then
mean ± spread (half the range) per recipe and side, as a Markdown table.
  /usr/bin/python3 scripts/bench/text_seeds.py [--gpubp build/gpubp] [--seeds 3]
      [--only t,l] [--steps 200] [--jobs 2]
The Transformer runs with --warmup 20 when --steps is below its default 1000, so the cosine
schedule ends at the last step as in the full recipe."""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = {'t': ('char_transformer.lua', 'torch_char_transformer.py'),
           'l': ('char_lstm.lua', 'torch_char_lstm.py')}


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout
    m = re.search(r'final train loss (\S+) val loss (\S+)', out)
    c = re.search(r'CPU time (\S+) s/step', out)
    if not m:
        return None
    return float(m.group(1)), float(m.group(2)), float(c.group(1)) if c else float('nan')


def stat(xs):
    return f'{sum(xs) / len(xs):.4f} ± {(max(xs) - min(xs)) / 2:.4f}'


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--gpubp', default=os.path.join(ROOT, 'build', 'gpubp'))
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--only', default='t,l')
    p.add_argument('--steps', type=int, default=200)
    p.add_argument('--jobs', type=int, default=2)
    a = p.parse_args()
    jobs = []
    for key in a.only.split(','):
        lua, py = RECIPES[key]
        extra = ['--steps', str(a.steps)]
        if key == 't' and a.steps < 1000:
            extra += ['--warmup', '20']
        for seed in range(1, a.seeds + 1):
            s = ['--seed', str(seed)]
            jobs.append((key, 'gpubp', [a.gpubp, '--device', 'cpu',
                                        os.path.join('scripts', 'examples', lua)] + extra + s))
            jobs.append((key, 'PyTorch', [sys.executable, os.path.join('scripts', 'bench', py),
                                          '--threads', '1'] + extra + s))
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        results = list(ex.map(lambda j: run(j[2]), jobs))
    rows = {}
    for (key, side, cmd), r in zip(jobs, results):
        print(' '.join(cmd), '->', r, flush=True)
        if r:
            rows.setdefault((key, side), []).append(r)
    print(f'\n| recipe ({a.steps} steps, {a.seeds} seeds) | side | final train loss | val loss | '
          'CPU s / step |\n| --- | --- | --- | --- | --- |')
    for (key, side), rs in rows.items():
        print(f'| {RECIPES[key][0]} | {side} ({len(rs)} runs) | {stat([r[0] for r in rs])} | '
              f'{stat([r[1] for r in rs])} | {stat([r[2] for r in rs])} |')


if __name__ == '__main__':
    main()
