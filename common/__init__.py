"""Small helpers shared by every service: safe paths and audio I/O. Imports nothing heavy at package level."""
