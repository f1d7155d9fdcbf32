"""Engines: one Protocol per capability (base.py), one module per backend, chosen through the registry."""
