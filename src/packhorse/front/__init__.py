"""The stable front: a small reverse proxy that owns the public address (API and webhooks)
and forwards to the active instance; a flip changes the active instance atomically.

* :mod:`~packhorse.front.state`: what the front forwards to, persisted as a JSON file;
  the flip itself is a pure function of that state.
* :mod:`~packhorse.front.proxy`: the ASGI app that forwards (streamed both ways).
* :mod:`~packhorse.front.admin`: the admin interface on a unix socket (state, flip).
* :mod:`~packhorse.front.hook`: the command hook, for sites that switch with DNS or a load
  balancer instead.
* :mod:`~packhorse.front.serve`: the process, ``packhorse front``.
"""
