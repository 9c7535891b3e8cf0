"""The one HTTP entry point: the ASGI app and its uvicorn server.

Slack's events, the health check and the live class view, under one set of limits.
"""
