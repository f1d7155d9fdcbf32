"""The two services run together on one machine, as the demo, the evaluator, the benchmarks and the tests run them."""
