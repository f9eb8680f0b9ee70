"""WSGI filters of the handler chains; each knows the request, never the storage."""
