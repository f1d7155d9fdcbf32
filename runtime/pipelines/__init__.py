"""Pipelines: one module per product flow (Phase 1: a script becomes a video)."""
