"""Background jobs: on PostgreSQL a procrastinate app whose workers run inside `inlier serve` or
as `inlier worker`; on SQLite the server's own timer (see ``background``)."""
