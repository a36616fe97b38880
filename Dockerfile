# Flowscope backend: collector (OTLP/HTTP :4318, OTLP/gRPC :4317), API (:8000) and engine
# in one process on one DuckDB file (kept in the /var/lib/flowscope volume).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    FLOWSCOPE_HOST=0.0.0.0 \
    FLOWSCOPE_DB=/var/lib/flowscope/flowscope.duckdb \
    FLOWSCOPE_SECRETS_DIR=/run/flowscope-secrets

WORKDIR /app
# Dependencies first (cached while only the sources change), pinned by constraints.txt.
COPY pyproject.toml constraints.txt README.md ./
COPY flowscope/__init__.py flowscope/__init__.py
RUN pip install -c constraints.txt . && pip uninstall -y flowscope
COPY . .
# Editable: the packages are imported from /app, so data files next to modules (SQL) are found.
RUN pip install --no-deps -c constraints.txt -e . \
    && useradd --system --uid 10001 --home-dir /var/lib/flowscope flowscope \
    && mkdir -p /var/lib/flowscope /run/flowscope-secrets \
    && chown flowscope /var/lib/flowscope /run/flowscope-secrets
USER flowscope
VOLUME ["/var/lib/flowscope", "/run/flowscope-secrets"]
EXPOSE 8000 4317 4318
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=6 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["--demo"]
