"""Experiment configs: one ``get_config(arg=None)`` per file; ``common.base()`` is the shared schema."""
