"""GradGuard's benchmarks: batch throughput, editor latency, memory and scaling.

``python -m benchmarks.run`` measures everything and writes ``docs/benchmarks.md``;
``python -m benchmarks.run --smoke`` is a tiny, network-free version (examples/ and the
installed torch sources only) that keeps the scripts alive in CI. Nothing here is a
timed test.
"""
