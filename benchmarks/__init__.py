"""rxkg benchmarks: long runs whose numbers go to ``benchmarks/results/*.json``."""
