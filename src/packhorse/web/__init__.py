"""The web console that ``packhorse up`` serves under ``/ui/``: server-rendered Jinja2 pages,
htmx and a little JavaScript for the live parts (the event stream). See docs/web.md.

Public surface: :func:`packhorse.web.pages.install` (called by ``bootstrap.create_app``).
"""
