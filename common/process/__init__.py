"""Child processes: a service started with uvicorn on a free port, and stopped."""
