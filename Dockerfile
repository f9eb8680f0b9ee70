FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 kapisup
WORKDIR /app
COPY pyproject.toml README.md ./
COPY kapisup ./kapisup
COPY conf ./conf
RUN pip install . && mkdir -p /var/lib/kapisup && chown kapisup /var/lib/kapisup

USER kapisup
# The SQLite database (kapisup.db, its -wal and -shm files) and the certificates live here:
# keep it on a volume, and give every worker of one master the same one.
VOLUME /var/lib/kapisup
ENV KAPISUP_DATA_DIR=/var/lib/kapisup \
    KAPISUP_INSECURE_BIND_ADDRESS=127.0.0.1
EXPOSE 6443
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).read() == b'ok' else 1)"
STOPSIGNAL SIGTERM
CMD ["kapisup"]
