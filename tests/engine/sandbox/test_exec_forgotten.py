"""An engine that forgets a finished exec (seen under gVisor): the learner still gets its output."""

from __future__ import annotations

import docker
import pytest
from pytest_mock import MockerFixture

from bot.identity import Person
from bot.sandbox.engine.sandbox import Sandbox
from bot.sandbox.policy.parser import parse

pytestmark = pytest.mark.docker


def test_an_exec_the_engine_forgot_keeps_its_output_with_an_unknown_status(
        sandbox: Sandbox, alice: Person, mocker: MockerFixture) -> None:
    """`GET /exec/{id}/json` answering 404 after the output: the output, status -1, no engine error."""
    assert sandbox.run_command(alice, parse("docker run -d --name c busybox sleep 60")).exit_code == 0
    gone = docker.errors.NotFound("404 Client Error", explanation="No such exec instance")
    forgot = mocker.patch.object(sandbox.calls, "exec_inspect", side_effect=gone)
    outcome = sandbox.run_command(alice, parse("docker exec c echo still-here"))
    assert outcome.output == "still-here\n"
    assert outcome.exit_code == -1
    assert forgot.call_count == 1  # not asked again and again until a deadline
    mocker.stop(forgot)
    again = sandbox.run_command(alice, parse("docker exec c echo again"))
    assert (again.exit_code, again.output) == (0, "again\n")
