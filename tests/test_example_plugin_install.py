"""The example plugin package, installed with pip (offline, into a temporary target) and found by entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_cli

EXAMPLE = REPO / "examples" / "secondme-plugin-example"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("example")
    source = work / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(target), str(source)], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return {"PYTHONPATH": os.pathsep.join([str(target), str(REPO)])}


def test_the_installed_plugin_is_listed_with_its_entry_point_and_hooks(installed):
    done = run_cli("plugins", "--json", env=installed)
    assert done.returncode == 0, done.stderr
    rows = {p["name"]: p for p in json.loads(done.stdout)}
    example = rows["example"]
    assert example["version"] == "0.1.0" and example["source"] == "entry point secondme-plugin-example"
    assert example["hooks"] == ["check_memory", "on_turn", "register_commands", "register_tools", "shutdown", "startup"]


def test_its_command_and_its_write_check_run(installed):
    hello = run_cli("example-hello", "Ada", env=installed)
    assert hello.returncode == 0 and b"hello, Ada, from secondme-plugin-example" in hello.stdout
    check = run_cli("check", "-", "--source", "user", input=b"my email password is hunter2", env=installed)
    verdict = json.loads(check.stdout)
    assert verdict["verdict"] == "quarantine" and any(r.startswith("example:") for r in verdict["reasons"])


def test_secondme_load_plugins_can_leave_it_out(installed):
    done = run_cli("plugins", "--json", env=dict(installed, SECONDME_LOAD_PLUGINS=""))
    assert "example" not in {p["name"] for p in json.loads(done.stdout)}


def test_the_example_passes_its_own_tests(installed):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                          capture_output=True, env=dict(os.environ, **installed), cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stdout.decode()[-2000:]
