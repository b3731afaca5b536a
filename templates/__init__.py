"""Jinja2 templates (a top-level folder, installed as package data)."""
