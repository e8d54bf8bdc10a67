"""The web dashboard: the page at ``/``, its bundled assets under ``/static`` and its config."""
