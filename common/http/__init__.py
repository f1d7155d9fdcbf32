"""Shared by both services' HTTP layers: keys, body limits, error answers, logs and metrics, streams, SSE."""
