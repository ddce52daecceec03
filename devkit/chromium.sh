#!/usr/bin/env bash
# Makes Debian's Chromium available for the web app's browser tests (tests/web/), as deploy/prometheus/install.sh does
# for Prometheus. Playwright drives it (executable /usr/bin/chromium, or SKOLIT_CHROMIUM); `playwright install` is
# never used: browsers are not downloaded from anywhere but the distribution's package archive. Idempotent.
#
# In this order: SKOLIT_CHROMIUM or chromium on PATH that runs -> nothing to do; as root -> apt-get install chromium
# (apt-get update first when the package lists are missing or old); else sudo -n apt-get. Otherwise it fails and says
# what to run: the browser tests do not skip, they fail, so a machine without a browser cannot pass for tested.
set -euo pipefail

works() { [ -n "$1" ] && [ -x "$1" ] && "$1" --headless=new --no-sandbox --version >/dev/null 2>&1; }

for candidate in "${SKOLIT_CHROMIUM:-}" "$(command -v chromium || true)" /usr/bin/chromium; do
  if works "$candidate"; then
    echo "chromium: $("$candidate" --version 2>/dev/null | head -n1) ($candidate)"
    exit 0
  fi
done

install() {
  "$@" apt-get install -y --no-install-recommends chromium >/dev/null || { "$@" apt-get update >/dev/null && "$@" apt-get install -y --no-install-recommends chromium >/dev/null; }
}

if [ "$(id -u)" = "0" ]; then
  install env DEBIAN_FRONTEND=noninteractive
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  install sudo -n env DEBIAN_FRONTEND=noninteractive
else
  echo "chromium is needed for the web app's browser tests: run 'sudo apt-get install chromium' (Debian/Ubuntu), or set SKOLIT_CHROMIUM to a Chromium binary" >&2
  exit 1
fi
works /usr/bin/chromium || { echo "chromium was installed but does not run: /usr/bin/chromium --version failed" >&2; exit 1; }
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
