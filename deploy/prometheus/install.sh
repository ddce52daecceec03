#!/usr/bin/env bash
# Makes `prometheus` and `promtool` available under .venv/prometheus/bin for the tests and for
# deploy/grafana/render.py. Idempotent: run it as often as you like.
#
# Where the binaries come from, in this order:
#   1. already installed there (and they run)  -> nothing to do
#   2. both on PATH                            -> symlink those
#   3. Debian's `prometheus` package            -> `apt-get download` (no root install, no daemon, no
#      service user: dpkg-deb -x unpacks it into .venv/prometheus/pkg) and symlink its /usr/bin binaries.
#      `apt-get update` runs only when the download fails, because the package lists may be missing or old.
#
# Usage: deploy/prometheus/install.sh [DEST]   (DEST defaults to <repository>/.venv/prometheus)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="${1:-$ROOT/.venv/prometheus}"
BIN="$DEST/bin"
PKG="$DEST/pkg"

works() {
  # A binary counts only if it runs: a dangling symlink or a half-unpacked file must be replaced.
  [ -x "$1" ] && "$1" --version >/dev/null 2>&1
}

done_message() {
  echo "prometheus: $("$BIN/prometheus" --version 2>&1 | head -n1)"
  echo "promtool:   $BIN/promtool"
}

if works "$BIN/prometheus" && works "$BIN/promtool"; then
  done_message
  exit 0
fi

mkdir -p "$BIN"

on_path_prometheus="$(command -v prometheus || true)"
on_path_promtool="$(command -v promtool || true)"
# Skip our own symlinks (they are on PATH when .venv/prometheus/bin is): they are what we are fixing.
case "$on_path_prometheus" in "$BIN"/*) on_path_prometheus="" ;; esac
case "$on_path_promtool" in "$BIN"/*) on_path_promtool="" ;; esac
if [ -n "$on_path_prometheus" ] && [ -n "$on_path_promtool" ] && works "$on_path_prometheus" && works "$on_path_promtool"; then
  ln -sfn "$on_path_prometheus" "$BIN/prometheus"
  ln -sfn "$on_path_promtool" "$BIN/promtool"
  done_message
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "install.sh: neither prometheus+promtool on PATH nor apt-get/dpkg-deb to fetch Debian's package" >&2
  exit 1
fi

download="$(mktemp -d)"
trap 'rm -rf "$download"' EXIT
# apt-get download writes into the current directory; as root it warns that _apt cannot write there,
# which is harmless (it downloads unsandboxed).
if ! (cd "$download" && apt-get download prometheus); then
  echo "install.sh: apt-get download failed; refreshing the package lists once" >&2
  apt-get update
  (cd "$download" && apt-get download prometheus)
fi

deb="$(ls "$download"/prometheus_*.deb)"
rm -rf "$PKG"
mkdir -p "$PKG"
dpkg-deb -x "$deb" "$PKG"
# Relative links, so the tree still works when the checkout moves.
ln -sfn ../pkg/usr/bin/prometheus "$BIN/prometheus"
ln -sfn ../pkg/usr/bin/promtool "$BIN/promtool"

if ! works "$BIN/prometheus" || ! works "$BIN/promtool"; then
  echo "install.sh: unpacked $deb but the binaries do not run" >&2
  exit 1
fi
done_message
