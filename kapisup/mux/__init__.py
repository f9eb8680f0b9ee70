"""The API container: curly-path router, path-recording mux, ServeMux rules."""
