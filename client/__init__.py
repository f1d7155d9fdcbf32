"""A command-line client of the runtime's public API."""
