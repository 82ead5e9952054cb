"""Widgets that are not item views."""
