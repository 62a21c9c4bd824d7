"""The example plugin's own tests: its hooks, called through a real secondme PluginHost."""

from secondme_plugin_example import ExamplePlugin

from plugins.api import Candidate
from plugins.manager import PluginHost


def host_with_plugin():
    host = PluginHost()
    plugin = ExamplePlugin()
    host.register(plugin, name="example")
    return host, plugin


def test_a_password_is_quarantined_and_other_text_is_left_alone():
    host, _ = host_with_plugin()
    secret = Candidate(text="my bank password is hunter2!", kind="fact", source="user", trust=1.0)
    plain = Candidate(text="my bank is the one on Main Street", kind="fact", source="user", trust=1.0)
    assert host.check_memory(secret).decision == "quarantine"
    assert host.check_memory(plain).decision == "accept"


def test_the_word_count_tool_validates_its_arguments():
    host, _ = host_with_plugin()
    assert host.call_tool("word_count", {"text": "one two three"}) == {"words": 3}
    import pytest

    from storage.errors import UserError

    with pytest.raises(UserError):
        host.call_tool("word_count", {"txt": "typo"})


def test_turns_are_counted_between_startup_and_shutdown():
    host, plugin = host_with_plugin()
    host.startup(None)
    host.on_turn({"session_id": 1, "user": "hi", "assistant": "hello", "memory_ids": []})
    assert plugin.started and plugin.turns == 1
    host.shutdown()
    assert not plugin.started
