#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (Chromium for browser tests, CJK fonts so
# Chinese renders in screenshots, espeak-ng for the kiosk's voice prompts). Idempotent; a no-op when everything is present.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)  # kiosk voice prompts (-v cmn)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
