#!/usr/bin/env bash
# Installs secondme for the current user: the app under ~/.local/opt, a launcher in ~/.local/bin, the desktop
# entry and icon. `install.sh --autostart` also starts it minimised to the tray at login.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${PREFIX:-$HOME/.local/opt/secondme}"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
CONFIG="${XDG_CONFIG_HOME:-$HOME/.config}"

mkdir -p "$PREFIX" "$HOME/.local/bin" "$DATA/applications" "$DATA/icons/hicolor/256x256/apps"
rm -rf "$PREFIX/app"
cp -r "$HERE/secondme" "$PREFIX/app"
ln -sfn "$PREFIX/app/secondme" "$HOME/.local/bin/secondme"
sed "s#@PREFIX@#$PREFIX/app#g" "$HERE/secondme.desktop" > "$DATA/applications/secondme.desktop"
cp "$HERE/secondme-256.png" "$DATA/icons/hicolor/256x256/apps/secondme.png"
if [ "${1:-}" = "--autostart" ]; then
  mkdir -p "$CONFIG/autostart"
  sed "s#@PREFIX@#$PREFIX/app#g" "$HERE/secondme-autostart.desktop" > "$CONFIG/autostart/secondme.desktop"
fi
command -v update-desktop-database >/dev/null && update-desktop-database "$DATA/applications" || true
echo "secondme installed in $PREFIX/app; run 'secondme' or open it from your applications menu."
