"""Rows scored by the champion through its own data contract: shared by ``predict`` on both
engines and by the service."""
