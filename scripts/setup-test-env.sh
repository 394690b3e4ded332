#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then the npm packages.
# Idempotent: each step is skipped when its tool is already there. Used by `npm run test:all` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
# Headless Chromium for the hls.js browser-playback test and bench/glass-to-glass.mjs (Debian builds play H.264).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# A CJK font, so the zh-CN pages in the browser tests' screenshots show characters, not boxes (small: ~5 MB).
fc-list :lang=zh 2>/dev/null | grep -q . || need_apt+=(fonts-wqy-microhei)
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# FerretDB (the MongoDB-protocol server the MongoDB adapter tests run against), unless MONGO_URL is given.
if [ -z "${MONGO_URL:-}" ]; then
  bash scripts/install-ferretdb.sh
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
else
  npm run build --silent
fi

# onvif-zeep (PyPI): an independent ONVIF client the tests run against our ONVIF camera simulator.
if [ ! -x .tools/onvif-venv/bin/python ] || ! .tools/onvif-venv/bin/python -c 'import onvif' >/dev/null 2>&1; then
  echo "setup: python venv with onvif-zeep"
  python3 -m venv .tools/onvif-venv
  .tools/onvif-venv/bin/pip install -q --disable-pip-version-check onvif-zeep==0.2.12
fi

# GStreamer's RTSP server (Debian) as an independent RTSP peer, driven by Debian's own python3 (it has `gi`).
if ! /usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' >/dev/null 2>&1 || ! command -v gst-inspect-1.0 >/dev/null || ! gst-inspect-1.0 x265enc >/dev/null 2>&1; then
  echo "setup: apt-get install GStreamer RTSP server and plugins"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-tools \
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav >/dev/null
fi
