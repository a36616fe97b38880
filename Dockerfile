# Flowscope backend: collector (OTLP/HTTP :4318, OTLP/gRPC :4317), API (:8000) and engine
# in one process on one DuckDB file (kept in the /var/lib/flowscope volume).
#
# The lake image (docker-compose's `scale` profile: nodes and `flowscope maintain` on one
# DuckLake) is the same build with FLOWSCOPE_EXTRAS=lake and
# FLOWSCOPE_CONSTRAINTS=constraints-lake.txt: DuckDB 1.5.5 and the wheels of its ducklake and
# postgres extensions (pyproject.toml, extra "lake"). The defaults build the image as before.

# The wheel, built as `pip wheel` builds it anywhere (tests/packaging/test_wheel.py checks
# what it holds). Only this stage sees the sources.
FROM python:3.11-slim AS wheel
# A C compiler for the compiled wire walk (storage/_wire_walk.c); only this stage has it.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
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

ARG FLOWSCOPE_EXTRAS=""
ARG FLOWSCOPE_CONSTRAINTS=constraints.txt
WORKDIR /app
# Dependencies first (deploy/requirements.py: the project's, plus the extras'), pinned by the
# constraints file: this layer is rebuilt only when these files change, not when the sources do.
COPY pyproject.toml constraints.txt constraints-lake.txt deploy/requirements.py /tmp/flowscope/
RUN python /tmp/flowscope/requirements.py /tmp/flowscope/pyproject.toml "$FLOWSCOPE_EXTRAS" \
        > /tmp/flowscope/requirements.txt \
    && pip install -c "/tmp/flowscope/$FLOWSCOPE_CONSTRAINTS" -r /tmp/flowscope/requirements.txt
# The package itself, installed from its wheel like any user's (not editable: no source tree
# in the image, the SQL, UI and example files come from the wheel).
COPY --from=wheel /dist/ /tmp/flowscope/dist/
# /lake: the lake's data path in the compose file (a volume every lake service mounts), made
# here so that the volume starts owned by the user the services run as.
RUN pip install -c "/tmp/flowscope/$FLOWSCOPE_CONSTRAINTS" /tmp/flowscope/dist/*.whl \
    && rm -rf /tmp/flowscope \
    && useradd --system --uid 10001 --home-dir /var/lib/flowscope flowscope \
    && mkdir -p /var/lib/flowscope /run/flowscope-secrets /lake \
    && chown flowscope /var/lib/flowscope /run/flowscope-secrets /lake
COPY deploy/ /app/deploy/
USER flowscope
VOLUME ["/var/lib/flowscope", "/run/flowscope-secrets"]
EXPOSE 8000 4317 4318
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=6 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["--demo"]
