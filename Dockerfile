# Flowscope backend: collector (OTLP/HTTP :4318, OTLP/gRPC :4317), API (:8000) and engine
# in one process on one DuckDB file (kept in the /var/lib/flowscope volume).

# The wheel, built as `pip wheel` builds it anywhere (tests/packaging/test_wheel.py checks
# what it holds). Only this stage sees the sources.
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    FLOWSCOPE_HOST=0.0.0.0 \
    FLOWSCOPE_DB=/var/lib/flowscope/flowscope.duckdb \
    FLOWSCOPE_SECRETS_DIR=/run/flowscope-secrets

WORKDIR /app
# Dependencies first, pinned by constraints.txt: this layer is rebuilt only when
# pyproject.toml or constraints.txt change, not when the sources do.
COPY pyproject.toml constraints.txt /tmp/flowscope/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/flowscope/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/flowscope/requirements.txt \
    && pip install -c /tmp/flowscope/constraints.txt -r /tmp/flowscope/requirements.txt
# The package itself, installed from its wheel like any user's (not editable: no source tree
# in the image, the SQL, UI and example files come from the wheel).
COPY --from=wheel /dist/ /tmp/flowscope/dist/
RUN pip install -c /tmp/flowscope/constraints.txt /tmp/flowscope/dist/*.whl \
    && rm -rf /tmp/flowscope \
    && useradd --system --uid 10001 --home-dir /var/lib/flowscope flowscope \
    && mkdir -p /var/lib/flowscope /run/flowscope-secrets \
    && chown flowscope /var/lib/flowscope /run/flowscope-secrets
COPY deploy/ /app/deploy/
USER flowscope
VOLUME ["/var/lib/flowscope", "/run/flowscope-secrets"]
EXPOSE 8000 4317 4318
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=6 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["--demo"]
