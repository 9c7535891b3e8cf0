"""The Slack app manifest asks for exactly what the handlers use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """The parsed slack-manifest.yml."""
    data = yaml.safe_load((ROOT / "slack-manifest.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_commands_scopes_and_events(manifest: dict[str, Any]) -> None:
    """/tutor and /docker, the seven bot scopes, app_home_opened and message.im."""
    features = manifest["features"]
    commands = {c["command"]: c for c in features["slash_commands"]}
    assert set(commands) == {"/tutor", "/docker"}
    assert all(c["description"] and c["usage_hint"] for c in commands.values())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands", "chat:write", "im:history", "im:read", "im:write", "files:write",
        "users:read"}
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_home_opened",
                                                                  "message.im"}
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True


def test_app_home_has_both_tabs(manifest: dict[str, Any]) -> None:
    """The Home tab is published and the Messages tab accepts typing."""
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is False
    assert manifest["display_information"]["name"] == "docker-tutor"
    assert manifest["features"]["bot_user"]["display_name"] == "docker-tutor"
    assert len(manifest["display_information"]["long_description"]) >= 175
