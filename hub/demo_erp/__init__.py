"""Local back-office systems for the demo, the tests and the benchmarks."""
