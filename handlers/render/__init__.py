"""Replies rendered for Slack: Block Kit messages and Slack's mrkdwn."""
