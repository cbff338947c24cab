#!/bin/sh
# Installs the Debian packages descent needs, only those that are missing.
#   scripts/deps.sh build   compiler, make, pkg-config, libcsv, inih
#   scripts/deps.sh test    the above plus what the tests use: python3 (its csv module
#                           reads outputs back) and chromium (renders the report)
#   scripts/deps.sh bench   the build's plus OpenBLAS, the yardstick of make bench
set -e
pkgs="gcc make pkg-config libc6-dev libcsv-dev libinih-dev"
case "${1:-build}" in
    test) pkgs="$pkgs python3 chromium" ;;
    bench) pkgs="$pkgs libopenblas-dev" ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "descent: installing missing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
