"""The llama.cpp runtime and its worker thread, on the real packaged SmolLM2-135M model."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from assistant.llm.gguf import default_chat_model_path
from assistant.llm.protocol import ContextOverflowError, LLMError, ModelLoadError
from storage.errors import UserError

QUESTION = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Name three colours of the rainbow."}]
FACTS_SCHEMA = {
    "type": "object",
    "properties": {
        "facts": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 60}},
        "topic": {"type": "string", "maxLength": 30},
    },
    "required": ["facts", "topic"],
}


def test_streams_the_answer_in_pieces(chat_model):
    pieces = list(chat_model.stream_chat(QUESTION, max_tokens=12))
    assert len(pieces) > 3
    assert all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces).strip()


def test_stop_flag_ends_the_answer_mid_way(chat_model):
    full = list(chat_model.stream_chat(QUESTION, max_tokens=12))
    out: list[str] = []
    for piece in chat_model.stream_chat(QUESTION, max_tokens=12, should_stop=lambda: len(out) >= 3):
        out.append(piece)
    assert len(full) > 5
    assert 3 <= len(out) < len(full)
    assert "".join(out) == "".join(full[: len(out)])  # greedy: the stopped answer is a prefix of the full one


def test_abandoned_stream_frees_the_worker(chat_model):
    stream = chat_model.stream_chat(QUESTION, max_tokens=200)
    next(stream)
    stream.close()  # the caller walks away: generation must end, not block the next request
    assert chat_model.count_tokens("still answering requests") > 0


def test_the_models_own_chat_template_is_applied(chat_model):
    assert chat_model.model.template_name == "gguf"
    prompt = chat_model.render(QUESTION)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert "<|im_start|>user\nName three colours of the rainbow.<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    assert chat_model.count_prompt_tokens(QUESTION) > chat_model.count_tokens("Name three colours of the rainbow.")


def test_unknown_fallback_template_is_refused():
    from assistant.llm.runtime import LlamaRuntime

    with pytest.raises(ModelLoadError, match="chat_template_fallback"):
        LlamaRuntime(default_chat_model_path(), template_fallback="no-such-format")


def test_json_output_follows_the_schema(chat_model):
    messages = [{"role": "system", "content": "Extract facts as JSON."},
                {"role": "user", "content": "My sister Alice lives in Lyon. She is a nurse."}]
    value = chat_model.generate_json(messages, FACTS_SCHEMA, max_tokens=160)
    assert set(value) == {"facts", "topic"}
    assert isinstance(value["facts"], list) and len(value["facts"]) <= 3
    assert all(isinstance(f, str) and len(f) <= 60 for f in value["facts"])
    assert isinstance(value["topic"], str) and len(value["topic"]) <= 30
    json.dumps(value)


def test_unbounded_schema_is_refused_before_generating(chat_model):
    schema = {"type": "object", "properties": {"notes": {"type": "array", "items": {"type": "string"}}}}
    with pytest.raises(ValueError, match=r"\$\.notes, \$\.notes\[\]"):
        chat_model.generate_json(QUESTION, schema)


def test_invalid_json_is_retried_once_then_raises(chat_model, caplog):
    caplog.set_level(logging.WARNING, logger="assistant.llm.runtime")
    with pytest.raises(LLMError, match="no valid JSON after 2 tries"):
        chat_model.generate_json(QUESTION, FACTS_SCHEMA, max_tokens=4)  # too short to close the object
    attempts = [r for r in caplog.records if "generate_json attempt" in r.getMessage()]
    assert len(attempts) == 2
    assert chat_model.count_tokens("the worker survives") > 0


def test_a_raw_newline_the_grammar_let_into_a_string_is_accepted_not_retried():
    """llama-cpp-python's schema grammar admits control characters inside strings (seen with Qwen2.5-0.5B in
    reflection); the answer is still valid for the schema, so it must not cost a second generation."""
    from types import SimpleNamespace

    from assistant.llm.runtime import LlamaRuntime

    answers = ['{"facts": ["line one\nline two"], "topic": "x"}']
    fake = SimpleNamespace(name="fake", _complete=lambda *a, **k: iter([answers.pop(0)]))
    value = LlamaRuntime.generate_json(fake, QUESTION, FACTS_SCHEMA)
    assert value == {"facts": ["line one\nline two"], "topic": "x"} and answers == []


def test_context_overflow_is_a_clear_error(chat_model):
    huge = [{"role": "user", "content": "word " * 5000}]
    with pytest.raises(ContextOverflowError, match="more than the model's context of 2048"):
        list(chat_model.stream_chat(huge))
    assert isinstance(ContextOverflowError("x"), UserError)


def test_concurrent_callers_are_served_one_at_a_time(chat_model):
    expected = "".join(chat_model.stream_chat(QUESTION, max_tokens=8, temperature=0.0))
    results: list[str] = []

    def ask() -> None:
        results.append("".join(chat_model.stream_chat(QUESTION, max_tokens=8, temperature=0.0)))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [expected] * 2


def test_kv_cache_is_kept_between_turns(chat_model):
    """A follow-up that extends the conversation evaluates only its new tokens (llama.cpp prefix reuse)."""
    import llama_cpp

    answer = "".join(chat_model.stream_chat(QUESTION, max_tokens=8, temperature=0.0))
    follow_up = QUESTION + [{"role": "assistant", "content": answer}, {"role": "user", "content": "And two more?"}]
    ctx = chat_model.model.llm._ctx.ctx
    llama_cpp.llama_perf_context_reset(ctx)
    list(chat_model.stream_chat(follow_up, max_tokens=1, temperature=0.0))
    evaluated = llama_cpp.llama_perf_context(ctx).n_p_eval
    assert 0 < evaluated < chat_model.count_prompt_tokens(follow_up) - chat_model.count_prompt_tokens(QUESTION) + 8


@pytest.mark.parametrize("kind", ["missing", "truncated", "not_gguf"])
def test_bad_model_files_get_a_clear_error(tmp_path, kind):
    from assistant.llm.runtime import LlamaRuntime

    path = tmp_path / "model.gguf"
    if kind == "truncated":
        with default_chat_model_path().open("rb") as src:
            path.write_bytes(src.read(3_000_000))
    elif kind == "not_gguf":
        path.write_text("<html>404 not found</html>" * 10)
    expected = {"missing": "not found", "truncated": "incomplete", "not_gguf": "not a GGUF"}[kind]
    with pytest.raises(UserError, match=expected):
        LlamaRuntime(path)
