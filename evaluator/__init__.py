"""The evaluator: scenario suites run against the runtime, scored with real metrics."""
