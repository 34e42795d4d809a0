"""A client for a remote Packhorse's API: what ``packhorse --url URL ...`` talks through.

Public surface:

* :class:`~packhorse.client.http.ApiClient`: one HTTP connection with credentials; every
  failure comes out as :class:`~packhorse.errors.RemoteError` or
  :class:`~packhorse.errors.Unauthenticated` (foreign exceptions are translated here).
* :mod:`packhorse.client.credentials`: the per-user file of tokens from ``packhorse login``.
* :mod:`packhorse.client.remote`: the remote counterparts of the local services the CLI reads
  (executions, registry, datastore, inquiries, events), answering the same values.
* :mod:`packhorse.client.documents`: StackStorm-shaped JSON back into those values.

Only the CLI imports this package, and only under ``--url``: httpx stays out of local runs.
"""
