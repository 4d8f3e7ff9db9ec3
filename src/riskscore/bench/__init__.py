"""Benchmarks that print their figures: `python -m riskscore.bench.features`, `.generate`.

May import: anything of riskscore (the synthetic world included).
"""
