#!/usr/bin/env bash
# Debian/Ubuntu packages secondme needs: a compiler for llama-cpp-python (and pynput's evdev), Python's venv, the
# libraries Qt loads (offscreen and under X11/Xvfb), and xdotool, with which the tests press the global hotkey
# on an Xvfb display. Installs only what is missing; other systems print what to install.
set -euo pipefail

PACKAGES=(
  build-essential cmake python3-venv python3-dev
  libegl1 libgl1 libglx0 libglvnd0 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0
  libx11-6 libxcb1 libpng16-16 fonts-dejavu-core
  xvfb xauth libx11-xcb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1
  libxcb-xfixes0 libxcb-xkb1 xdotool
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "Not a Debian-like system: install a C++ compiler, CMake and Qt 6's runtime libraries with your package manager."
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A pyenv or self-built Python brings its own venv and C headers; Debian's needs python3-venv and python3-dev
# (evdev, which pynput uses on Linux, compiles against Python.h) only for the system Python.
if python3 -c "import ensurepip" 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
if python3 -c "import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))" 2>/dev/null; then
  missing=("${missing[@]/python3-dev}")
fi
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "Installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
