"""Nothing leaves the machine: the whole remember/recall path runs with every socket refused."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

NO_NETWORK_PRELUDE = """
import socket
def refuse(*args, **kwargs):
    raise RuntimeError(f"network access attempted: {args!r}")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import sys
from assistant.cli import main
sys.argv = ["secondme"] + sys.argv[1:]
main()
"""


def _run(*args):
    return subprocess.run([sys.executable, "-c", NO_NETWORK_PRELUDE, *args], capture_output=True, cwd=REPO,
                          timeout=120)


def test_remember_recall_and_doctor_use_no_network(home):
    out = _run("remember", "My sister Ana is a nurse in Porto", "--json")
    assert out.returncode == 0, out.stderr.decode()
    out = _run("recall", "what does my sister do", "--json")
    assert out.returncode == 0, out.stderr.decode()
    assert json.loads(out.stdout)[0]["text"] == "My sister Ana is a nurse in Porto"
    out = _run("doctor")
    assert "network access attempted" not in out.stderr.decode() + out.stdout.decode()


def test_telemetry_switches_are_set_before_libraries_load():
    code = ("import assistant, os; print(os.environ['ORT_DISABLE_TELEMETRY'], os.environ['HF_HUB_OFFLINE'], "
            "os.environ['ANONYMIZED_TELEMETRY'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.split() == ["1", "1", "False"]
