"""gpu_service: speech synthesis and talking-head rendering behind HTTP. Imports nothing heavy at package level."""

__version__ = "0.1.0"
