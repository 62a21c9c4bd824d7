#!/usr/bin/env bash
# Builds the Linux desktop package: a one-folder PyInstaller bundle in a tarball, with a desktop entry,
# an icon and an installer script. Output: dist/secondme-<version>-linux-x86_64.tar.gz
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
PY=.venv/bin/python
$PY -m pip install -q "pyinstaller>=6.10"
VERSION=$($PY -c "import assistant; print(assistant.__version__)")
NAME="secondme-${VERSION}-linux-$(uname -m)"

$PY installer/make_notices.py installer/NOTICES
rm -rf build/pyinstaller dist/secondme "dist/${NAME}"
$PY -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller installer/secondme.spec

STAGE="dist/${NAME}"
mkdir -p "$STAGE"
mv dist/secondme "$STAGE/secondme"
cp installer/NOTICES "$STAGE/NOTICES"
cp installer/secondme.desktop installer/secondme-autostart.desktop installer/icons/secondme-256.png "$STAGE/"
cp installer/install_linux.sh "$STAGE/install.sh"
tar -C dist -czf "dist/${NAME}.tar.gz" "${NAME}"
echo "built dist/${NAME}.tar.gz ($(du -sh "dist/${NAME}.tar.gz" | cut -f1) packed, $(du -sh "$STAGE" | cut -f1) unpacked)"
