"""A gevent HTTP/1.1 server on httptools' C parser, serving WSGI apps on inherited sockets."""
