"""Benchmarks: Concierge against a bare `mcp` SDK server, search at catalog scale, sessions, load.

Run `python -m bench` (see bench/README.md). Servers run as separate processes on loopback so their
CPU can be read from /proc without the load generator's CPU mixed in.
"""
