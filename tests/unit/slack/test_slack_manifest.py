"""The Slack app manifest asks for exactly what the handlers use, and tells every tutor word.

The scopes are derived, not listed: the code under ``handlers/`` and ``bot/`` is searched
for every Slack Web API method it calls (as ``WebClient`` methods), each method is
looked up in a table of the scopes Slack documents for it, the manifest's events add
theirs, and the manifest must ask for that set and nothing more.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from slack_sdk import WebClient

from bot.tutor import core as tutor_module
from bot.tutor.core import TUTOR_WORDS
from handlers.listeners.messages import route
from tests.paths import REPO_ROOT

ROOT = REPO_ROOT

METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "views.publish": frozenset(),
    "views.open": frozenset(),  # a modal needs no scope, only a trigger_id
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "conversations.open": frozenset({"im:write"}),
    "conversations.info": frozenset({"im:read"}),
    "users.info": frozenset({"users:read"}),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
    "files.info": frozenset({"files:read"}),
}
"""Bot scopes Slack documents per Web API method (for a DM where a method takes several)."""

WRAPPERS = {"files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal")}
"""slack_sdk methods that call several Web API methods."""

EVENT_SCOPES = {"app_home_opened": frozenset(), "message.im": frozenset({"im:history"})}
"""Bot scopes the subscribed events need."""

LIMITS = {"name": 35, "description": 140, "long_description": 4000, "display_name": 80,
          "command": 32, "command_description": 2000, "usage_hint": 1000}
"""Slack's manifest schema limits (slackapi/manifest-schema, v1)."""

_CALL = re.compile(r"\.([a-z]+_[A-Za-z0-9_]+)\(")
_API_CALL = re.compile(r"api_call\(\s*[\"']([\w.]+)[\"']")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """The parsed slack-manifest.yml."""
    data = yaml.safe_load((ROOT / "slack-manifest.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def web_api_methods() -> set[str]:
    """Every Slack Web API method the bot's code calls (the fake Slack lives in tests/)."""
    client_methods = {name for name in dir(WebClient) if not name.startswith("_")}
    found: set[str] = set()
    for path in [*ROOT.glob("handlers/**/*.py"), *ROOT.glob("bot/**/*.py")]:
        source = path.read_text(encoding="utf-8")
        found.update(_API_CALL.findall(source))
        for name in set(_CALL.findall(source)) & client_methods:
            found.update(WRAPPERS.get(name, (name.replace("_", "."),)))
    return found


def tutor_words() -> set[str]:
    """The words of the tutor's command table."""
    table = getattr(tutor_module, "_WORDS", None)
    assert table, "the tutor's command table moved: point this test at it"
    return set(table)


def test_the_code_calls_the_methods_this_test_knows() -> None:
    """The search finds the bot's Web API calls, and every one has its scopes in the table."""
    methods = web_api_methods()
    assert {"chat.postMessage", "conversations.open", "views.publish"} <= methods
    assert methods <= set(METHOD_SCOPES), f"add to METHOD_SCOPES: {methods - set(METHOD_SCOPES)}"


def test_the_manifest_asks_for_exactly_the_scopes_the_code_needs(manifest: dict[str, Any]) -> None:
    """Bot scopes = scopes of the methods called + of the events subscribed + commands."""
    needed = set().union(*(METHOD_SCOPES[m] for m in web_api_methods()))
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    needed |= set().union(*(EVENT_SCOPES[e] for e in events))
    if manifest["features"].get("slash_commands"):
        needed.add("commands")
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(needed)
    assert not {"im:read", "users:read"} & needed


def test_the_setup_guide_lists_the_same_scopes(manifest: dict[str, Any]) -> None:
    """docs/slack-setup.md names each manifest scope and no other."""
    guide = (ROOT / "docs" / "slack-setup.md").read_text(encoding="utf-8")
    row = next(line for line in guide.splitlines() if line.startswith("| Bot scopes"))
    assert set(re.findall(r"`([a-z:]+)`", row)) == set(manifest["oauth_config"]["scopes"]["bot"])
    for scope in manifest["oauth_config"]["scopes"]["bot"]:
        assert f"| `{scope}` |" in guide


def test_commands_and_events(manifest: dict[str, Any]) -> None:
    """/tutor and /docker, app_home_opened and message.im, interactivity, Socket Mode."""
    features = manifest["features"]
    commands = {c["command"]: c for c in features["slash_commands"]}
    assert set(commands) == {"/tutor", "/docker"}
    assert all(c["description"] and c["usage_hint"] for c in commands.values())
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == set(EVENT_SCOPES)
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True


def test_the_tutor_usage_hint_lists_every_tutor_word(manifest: dict[str, Any]) -> None:
    """Every word of the tutor's command table is in the /tutor usage hint."""
    [tutor] = [c for c in manifest["features"]["slash_commands"] if c["command"] == "/tutor"]
    hinted = set(re.findall(r"\b[a-z]+\b", tutor["usage_hint"]))
    assert tutor_words() <= hinted, tutor_words() - hinted
    assert {"answer", "edit", "progress"} <= hinted


def test_the_guide_and_the_dm_router_know_every_tutor_word() -> None:
    """The setup guide names every tutor word, and every one routes from a DM."""
    guide = (ROOT / "docs" / "slack-setup.md").read_text(encoding="utf-8")
    missing = {w for w in tutor_words() if f"`{w}" not in guide}
    assert not missing, missing
    assert tutor_words() <= TUTOR_WORDS
    unrouted = {w for w in tutor_words() if route(w, TUTOR_WORDS) is None}
    assert not unrouted, unrouted


def test_the_manifest_is_within_slacks_schema_limits(manifest: dict[str, Any]) -> None:
    """Names, descriptions and hints are within the lengths Slack's manifest schema allows."""
    info = manifest["display_information"]
    assert len(info["name"]) <= LIMITS["name"]
    assert len(info["description"]) <= LIMITS["description"]
    assert 175 <= len(info["long_description"]) <= LIMITS["long_description"]
    assert len(manifest["features"]["bot_user"]["display_name"]) <= LIMITS["display_name"]
    for command in manifest["features"]["slash_commands"]:
        assert len(command["command"]) <= LIMITS["command"]
        assert len(command["description"]) <= LIMITS["command_description"]
        assert len(command["usage_hint"]) <= LIMITS["usage_hint"]


def test_app_home_has_both_tabs(manifest: dict[str, Any]) -> None:
    """The Home tab is published and the Messages tab accepts typing."""
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is False
    assert manifest["display_information"]["name"] == "docker-tutor"
    assert manifest["features"]["bot_user"]["display_name"] == "docker-tutor"
