"""Inbox items of the recycling network (filled below)."""
