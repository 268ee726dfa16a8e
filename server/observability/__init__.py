"""What an operator sees of a running server: structured logs with secrets scrubbed, health and
readiness, Prometheus metrics, and the per-request context (request id, session id) that ties them."""
