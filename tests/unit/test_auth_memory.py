"""How a transaction was authorised (OCPI AuthMethod), from what its connection saw."""

from __future__ import annotations

from apps.charging.contracts import AuthMethod
from csms_gateway.authorizations import WINDOW_SECONDS, AuthMemory


def test_a_start_after_our_accepted_authorize_is_auth_request_once() -> None:
    memory = AuthMemory()
    memory.authorize_accepted("TAG", now=100.0)
    assert memory.start("OTHER", now=101.0) == (AuthMethod.WHITELIST, "")
    assert memory.start("TAG", now=100.0 + WINDOW_SECONDS) == (AuthMethod.AUTH_REQUEST, "")
    # Used up: the next session with the card and no new Authorize was the station's call.
    assert memory.start("TAG", now=102.0) == (AuthMethod.WHITELIST, "")


def test_a_start_after_a_remote_start_is_command_with_its_reference() -> None:
    memory = AuthMemory()
    memory.authorize_accepted("TAG", now=99.0)  # the station also asked (AuthorizeRemoteTx…)
    memory.remote_start_sent("TAG", "4711", now=100.0)
    assert memory.start("TAG", now=130.0) == (AuthMethod.COMMAND, "4711")
    assert memory.start("TAG", now=131.0) == (AuthMethod.WHITELIST, "")


def test_a_refused_remote_start_and_an_old_answer_are_forgotten() -> None:
    memory = AuthMemory()
    memory.remote_start_sent("TAG", "1", now=100.0)
    memory.remote_start_refused("TAG", "1")
    assert memory.start("TAG", now=101.0) == (AuthMethod.WHITELIST, "")
    memory.remote_start_sent("TAG", "2", now=100.0)
    memory.remote_start_refused("TAG", "other command")  # not this one: kept
    assert memory.start("TAG", now=101.0) == (AuthMethod.COMMAND, "2")
    memory.authorize_accepted("TAG", now=100.0)
    assert memory.start("TAG", now=100.0 + WINDOW_SECONDS + 1) == (AuthMethod.WHITELIST, "")


def test_the_memory_stays_small() -> None:
    memory = AuthMemory()
    for i in range(1000):
        memory.authorize_accepted(f"T{i}", now=float(i))
    assert len(memory.accepted) == 64
    assert memory.start("T999", now=1000.0) == (AuthMethod.AUTH_REQUEST, "")
    assert memory.start("T0", now=1000.0) == (AuthMethod.WHITELIST, "")  # the oldest went
