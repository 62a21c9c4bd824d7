"""The GUI's ChatBackend Protocol, the real chat service and the tests' fake must not drift apart."""

from __future__ import annotations

import inspect

import pytest

from assistant.chat import ChatService
from assistant.chat_backend import ChatBackend
from tests.ui.fake_chat import FakeChat

METHODS = sorted(name for name, member in vars(ChatBackend).items()
                 if inspect.isfunction(member) and not name.startswith("_"))


def _parameters(method) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]


def test_the_real_service_and_the_fake_are_chat_backends(app):
    assert {"send", "regenerate", "warm_up"} <= set(METHODS)  # the list the test below walks is the Protocol's
    assert isinstance(app.chat, ChatBackend)  # as the composition root builds it, with its attributes
    assert isinstance(FakeChat(), ChatBackend)


@pytest.mark.parametrize("backend", [ChatService, FakeChat])
@pytest.mark.parametrize("name", METHODS)
def test_every_method_takes_the_protocols_parameters(backend, name):
    assert _parameters(getattr(backend, name)) == _parameters(getattr(ChatBackend, name))
