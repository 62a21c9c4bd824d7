"""The chat, ask, sessions and models commands through the real entry point (child processes, real model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from assistant.llm.gguf import default_chat_model_path
from tests.conftest import REPO, run_cli

FAST = {"SECONDME_MAX_TOKENS": "12", "SECONDME_TEMPERATURE": "0", "SECONDME_CONTEXT_SIZE": "2048"}


def test_ask_end_to_end_with_recalled_memories_and_timings():
    assert run_cli("remember", "My cat is called Miso and she is orange.").returncode == 0
    out = run_cli("ask", "What is my cat called?", "--json", env=FAST, timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    data = json.loads(out.stdout)
    assert data["answer"]
    assert 1 in data["recalled_memory_ids"]
    assert data["timings"]["first_token_s"] > 0 and data["timings"]["generated_tokens"] > 0
    listed = json.loads(run_cli("sessions", "list", "--json").stdout)
    assert listed[0]["message_count"] == 2 and listed[0]["title"] == "What is my cat called?"
    shown = run_cli("sessions", "show", str(listed[0]["id"])).stdout.decode()
    assert "What is my cat called?" in shown and data["answer"] in shown


def test_terminal_chat_streams_ignores_empty_lines_and_regenerates():
    # Fact extraction off: on a loaded machine it would queue for the one model ahead of /regenerate.
    out = run_cli("chat", input=b"Hello there\n\n   \n/regenerate\n/quit\n",
                  env={**FAST, "SECONDME_EXTRACT_FACTS": "0"}, timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().count("secondme> ") == 2  # the answer, then its replacement
    [session] = json.loads(run_cli("sessions", "list", "--json").stdout)
    # one question, one answer: blank lines were not sent, /regenerate replaced the answer
    assert session["message_count"] == 2


def test_bad_input_gets_one_line_errors(tmp_path):
    empty = run_cli("ask", "   ")
    assert empty.returncode == 2 and b"error: The question is empty" in empty.stderr
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model at all")
    info = run_cli("models", "info", str(broken))
    assert info.returncode == 2 and info.stderr.decode().strip().startswith("error:") and b"not a GGUF" in info.stderr
    use = run_cli("models", "use", str(tmp_path / "nope.gguf"))
    assert use.returncode == 2 and b"not found" in use.stderr
    missing = run_cli("sessions", "show", "99")
    assert missing.returncode == 2 and b"No chat session with id 99" in missing.stderr
    # a configured model that is broken: ask fails cleanly and the question is still kept
    bad_model = run_cli("ask", "Are you there?", env={"SECONDME_CHAT_MODEL_PATH": str(broken)})
    assert bad_model.returncode == 2 and b"not a GGUF" in bad_model.stderr
    assert b"Traceback" not in bad_model.stderr
    [kept] = json.loads(run_cli("sessions", "list", "--json").stdout)
    assert kept["message_count"] == 1


def test_models_add_use_list_and_back_to_default(tmp_path, home):
    copy = tmp_path / "my-model.gguf"
    copy.symlink_to(default_chat_model_path())
    assert run_cli("models", "add", str(copy)).returncode == 0
    assert run_cli("models", "use", str(copy)).returncode == 0
    assert "chat_model_path" in (home / "config.toml").read_text()
    listed = json.loads(run_cli("models", "list", "--json").stdout)
    active = [m for m in listed if m["active"]]
    assert len(active) == 1 and active[0]["quantization"] == "Q4_1" and active[0]["parameters"] == 134_515_008
    assert run_cli("models", "use", "default").returncode == 0
    assert "chat_model_path" not in (home / "config.toml").read_text()
    doctor = run_cli("doctor", "--json")
    chat_check = [c for c in json.loads(doctor.stdout) if c["name"] == "chat model"][0]
    assert chat_check["status"] == "OK" and "135M Q4_1" in chat_check["detail"]
    rec = json.loads(run_cli("models", "recommend", "--json").stdout)
    assert rec["free_ram_mb"] > 0 and len(rec["models"]) == 3


def test_ctrl_c_stops_the_answer_not_the_program():
    env = {**os.environ, **FAST, "SECONDME_MAX_TOKENS": "400"}
    child = subprocess.Popen([sys.executable, "-c", "from assistant.cli import main; main()", "chat"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    child.stdin.write(b"Write a very long poem about the sea.\n")
    child.stdin.flush()
    seen = b""
    deadline = time.monotonic() + 240
    while b"secondme> " not in seen and time.monotonic() < deadline:
        seen += os.read(child.stdout.fileno(), 64)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(b"/quit\n", timeout=240)
    assert child.returncode == 0, err.decode()
    assert b"[stopped]" in seen + out, (seen + out + err).decode()
    [session] = json.loads(run_cli("sessions", "list", "--json").stdout)
    data = json.loads(run_cli("sessions", "show", str(session["id"]), "--json").stdout)
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert data["messages"][1]["partial"] is True
