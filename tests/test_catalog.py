"""The model catalogue: metadata read without loading weights, validation, RAM estimate, recommendations."""

from __future__ import annotations

import shutil

import pytest

from assistant.config import load_settings
from assistant.llm import catalog
from assistant.llm.gguf import default_chat_model_path
from assistant.llm.recommend import download, recommend
from storage.errors import UserError


def test_describes_the_packaged_model_from_its_metadata():
    info = catalog.inspect_model(default_chat_model_path(), context_size=4096)
    assert info.architecture == "llama"
    assert info.parameters == 134_515_008
    assert info.parameters_label == "135M"
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert info.has_chat_template
    assert info.size_bytes == default_chat_model_path().stat().st_size
    # weights + a 4096-token f16 KV cache (30 layers x 3 KV heads x 64 x 2) + runtime overhead
    kv = 30 * 4096 * 3 * (64 + 64) * 2
    assert info.ram_estimate_bytes == info.size_bytes + kv + catalog.RUNTIME_OVERHEAD_BYTES


def test_lists_packaged_models_folder_and_added_files(home, tmp_path):
    models_dir = home / "models"
    models_dir.mkdir(parents=True)
    shutil.copy(default_chat_model_path(), models_dir / "copy.gguf")
    (models_dir / "broken.gguf").write_bytes(b"GGUF" + b"\0" * 100)
    elsewhere = tmp_path / "mine.gguf"
    elsewhere.symlink_to(default_chat_model_path())
    settings = load_settings(chat_models=[elsewhere])
    entries = {e.path.name: e for e in catalog.list_models(settings)}
    assert entries["SmolLM2-135M-Instruct.Q4_1.gguf"].active  # the symlink resolves to the packaged file
    assert entries["SmolLM2-135M-Instruct.Q4_1.gguf"].origin == "packaged"
    assert entries["copy.gguf"].info.quantization == "Q4_1"
    assert entries["broken.gguf"].info is None and "damaged or incomplete" in entries["broken.gguf"].error
    assert len(entries) == 3


def test_warns_when_the_model_needs_more_than_free_ram(monkeypatch):
    info = catalog.inspect_model(default_chat_model_path())
    monkeypatch.setattr(catalog, "available_ram_bytes", lambda: 100 * 2**20)
    assert "only 0.1 GiB is free" in catalog.ram_warning(info)
    monkeypatch.setattr(catalog, "available_ram_bytes", lambda: 64 * 2**30)
    assert catalog.ram_warning(info) is None


def test_free_ram_is_known_on_this_machine():
    free = catalog.available_ram_bytes()
    assert free is not None and 0 < free <= catalog.total_ram_bytes()


@pytest.mark.parametrize("content,message", [
    (b"", "not a GGUF"),
    (b"PK\x03\x04 a zip file, not a model" * 4, "not a GGUF"),
    (b"GGUF\x03\0\0\0", "truncated"),
    (b"GGUF\x03\0\0\0" + b"\xff" * 64, "damaged or incomplete"),
])
def test_rejects_corrupt_files_with_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        catalog.inspect_model(path)


def test_recommendations_follow_free_ram():
    fits = {s.name: ok for s, ok in recommend(free_mb=3000)}
    assert fits == {"Qwen2.5 1.5B Instruct": True, "Llama 3.2 3B Instruct": False, "Qwen2.5 3B Instruct": False}
    assert all(ok for _, ok in recommend(free_mb=None))
    assert all(s.file.endswith(".gguf") and "Q4_K_M" in s.file.upper() for s, _ in recommend(None))


def test_download_refuses_a_non_gguf_name(tmp_path):
    with pytest.raises(UserError, match="not a .gguf file"):
        download("Qwen/Qwen2.5-1.5B-Instruct-GGUF", "README.md", tmp_path)
