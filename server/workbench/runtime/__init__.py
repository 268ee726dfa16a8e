"""Code that runs inside the sandbox, bound read-only at /opt/concierge.

Standard library only: the server's own package (and its config, database and keys) is not
visible in the sandbox, so nothing here may import `server`.
"""
