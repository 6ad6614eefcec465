"""Samverkan's benchmarks: every figure is a ratio to a baseline measured in the same run.

Run with ``make bench`` (``python -m bench``); ``python -m bench --quick`` is a smoke run.
Pure parts (statistics, report writing) live in `bench.stats` and `bench.report` and are
tested in ``tests/bench``; the rest needs the dev server, PostgreSQL and a few minutes.
"""
