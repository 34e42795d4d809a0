"""The pack-side half of Packhorse's python-script runner (standard library only).

``action`` runs one action (the wrapper), ``channel`` carries datastore calls back to the
engine, ``host`` is the warm host that forks a fresh child per execution.
"""
