"""The ``packhorse`` command line: thin commands over the services. Imports are lazy so that
``packhorse --help`` and list commands start fast."""
