"""Process supervision: a master that pre-binds, forks and watches workers. Knows no API."""
