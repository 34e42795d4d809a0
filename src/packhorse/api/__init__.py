"""The HTTP API (FastAPI): health, StackStorm v1 routes, webhooks, event stream."""
