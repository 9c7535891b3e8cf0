"""The Immortal Database challenge (lesson 04): did a Redis key survive its container's deletion?

The check, the journey of one key through one volume, how its writer ended, and why it
failed (each diagnosis with a stable id).
"""
