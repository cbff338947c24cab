#!/bin/sh
# make bench: installs what the benchmarks compare against (Debian's PyTorch, OpenBLAS,
# Fashion-MNIST) if missing, then runs bench/bench.py. Never part of make check or CI.
set -e
build="${1:-build}"
missing=""
for p in python3-torch python3-numpy libopenblas-dev dataset-fashion-mnist; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bench: installing$missing" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
exec /usr/bin/python3 bench/bench.py "$build" ${BENCH_ARGS:-}
