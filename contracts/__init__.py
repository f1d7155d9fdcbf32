"""Wire contracts: one module per API, imported by both sides (pydantic only)."""
