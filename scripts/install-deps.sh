#!/usr/bin/env bash
# Installs the Debian 12 packages that chorus needs to build, test and benchmark.
# Idempotent and quiet when everything is present. Debian packages only: no other downloads.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build ccache pkg-config git
  clang-14 libclang-rt-14-dev clang-format clang-tidy
  libasio-dev libssl-dev openssl libxxhash-dev nlohmann-json3-dev libcli11-dev
  libspdlog-dev libfmt-dev libcpp-httplib-dev libzstd-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  python3 procps
  redis-server redis-tools python3-redis libhiredis-dev etcd-server etcd-client iproute2 iptables
  gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo $0)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
