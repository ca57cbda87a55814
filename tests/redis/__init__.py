"""Redis integration tests (real redis-server started by tests/redis/server.py)."""
