"""Importers fed hostile files: malformed Markdown and JSON, binary data, a zip bomb. Each run ends in stored
memories or a one-line UserError, never a crash or a hang, and what was stored before survives."""

from __future__ import annotations

import io
import json
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.errors import UserError

FUZZ = settings(max_examples=40, deadline=20_000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

markdown_ish = st.one_of(
    st.text(max_size=3000),
    st.builds(lambda fm, body: f"---\n{fm}\n---\n{body}", st.text(max_size=300), st.text(max_size=1000)),
    st.builds(lambda links: " ".join(f"[[{t}]] #{t}" for t in links), st.lists(st.text(max_size=20), max_size=30)),
)
json_ish = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=40,
)
CHATGPT_KEYS = st.fixed_dictionaries({"title": st.text(max_size=30), "mapping": json_ish,
                                      "current_node": st.text(max_size=10) | st.none()})


def _importer(app, name):
    return app.plugins.integrations()[("import", name)].function


def _run(app, name, path) -> None:
    try:
        _importer(app, name)(app, path)
    except UserError as exc:
        assert "\n" not in str(exc).strip()


@FUZZ
@given(notes=st.lists(st.one_of(markdown_ish.map(lambda t: t.encode("utf-8", "surrogatepass")),
                                st.binary(max_size=2000)), min_size=1, max_size=4))
def test_obsidian_import_survives_malformed_and_binary_notes(app, tmp_path_factory, notes):
    keep = app.memory.remember("The fuzz keeper memory stays.")
    vault = tmp_path_factory.mktemp("vault")
    for i, raw in enumerate(notes):
        (vault / f"note{i}.md").write_bytes(raw)
    _run(app, "obsidian", vault)
    assert app.memory.get(keep.id).text == "The fuzz keeper memory stays."


@FUZZ
@given(payload=st.one_of(json_ish, st.lists(CHATGPT_KEYS, max_size=3)), raw=st.binary(max_size=500),
       use_raw=st.booleans())
def test_chat_imports_survive_malformed_json_and_binary_files(app, tmp_path_factory, payload, raw, use_raw):
    keep = app.memory.remember("The fuzz keeper memory stays.")
    path = tmp_path_factory.mktemp("chat") / "conversations.json"
    path.write_bytes(raw if use_raw else json.dumps(payload, allow_nan=True).encode())
    for name in ("chatgpt", "json"):
        _run(app, name, path)
    assert app.memory.get(keep.id).text == "The fuzz keeper memory stays."


def test_a_zip_bomb_is_refused_without_being_expanded(app, tmp_path):
    """ChatGPT exports arrive zipped; the importers take the extracted JSON and refuse archives unopened."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("conversations.json", b"[" + b" " * 200_000_000 + b"]")  # 200 MB of spaces, ~200 KB zipped
    bomb = tmp_path / "export.zip"
    bomb.write_bytes(buffer.getvalue())
    assert bomb.stat().st_size < 1_000_000
    for name in ("chatgpt", "json"):
        try:
            _importer(app, name)(app, bomb)
            raise AssertionError("a zip archive was accepted as a chat export")
        except UserError as exc:
            assert "\n" not in str(exc)
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "bomb.md").write_bytes(bomb.read_bytes())
    _run(app, "obsidian", vault)
    assert app.memory.count() == 0 or all(m.text for m in app.memory.list())
