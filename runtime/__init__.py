"""runtime: the orchestrator users call (POST /api/v1/generate). No ML dependencies of its own."""

__version__ = "0.1.0"
