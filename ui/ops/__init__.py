"""Running as a service: /healthz, /readyz, /metrics, the request log, stream health and maintenance.

Owns: the service routes and the ASGI wrapper that serves them (service), the JSON request log,
the Prometheus metrics, the streams' health gauges and the periodic maintenance task.
May import: `store`, `ui.shell` (worker-thread calls), `ui.api` (to tell API requests apart).
"""
