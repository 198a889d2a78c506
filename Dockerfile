# mockstatus container image (README.md, "Use it in CI").
#
#   docker build -t ghcr.io/mockstatus/mockstatus:latest .
#   docker run --rm -p 8080:8080 ghcr.io/mockstatus/mockstatus:latest [--quiet ...]
#
# BASE_IMAGE must provide `python3` with the venv module. Both stages use the same image, so the
# venv built in the first stage points at the same interpreter path in the second; nothing here
# hard-codes where python lives (/usr/local/bin on python:*, /usr/bin on Debian's own python3).
ARG BASE_IMAGE=python:3.12-slim-bookworm

# ---- builder: wheels of the project and its dependencies, then a venv without pip -------------
FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# .dockerignore admits only what the build needs (an allowlist).
COPY . .
# /opt/build is a throwaway venv with pip; /opt/venv never gets pip: the builder's pip installs
# into it with --python. The example scenarios/ may be absent from a checkout: /scenarios is then
# empty and `mockstatus serve` still starts.
RUN python3 -m venv /opt/build \
 && /opt/build/bin/python -m pip wheel --wheel-dir /wheels ".[speed,redis]" \
 && python3 -m venv --without-pip /opt/venv \
 && /opt/build/bin/python -m pip --python /opt/venv/bin/python install \
        --no-index --find-links /wheels "mockstatus[speed,redis]" \
 && mkdir -p /scenarios \
 && if [ -d scenarios ]; then cp -R scenarios/. /scenarios/; fi \
 && chmod -R a+rX,go-w /opt/venv /scenarios

# ---- runtime ----------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="mockstatus" \
      org.opencontainers.image.description="An HTTP server that answers any status code the way a real server would, plus YAML scenarios for outages, rate limits and faults." \
      org.opencontainers.image.source="https://github.com/mockstatus/mockstatus" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}"

# A fixed numeric UID/GID so volume permissions and `runAsNonRoot` policies are predictable.
RUN groupadd --gid 10001 mockstatus \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin mockstatus

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /scenarios /scenarios
COPY scripts/healthcheck.py /opt/mockstatus/healthcheck.py

# PATH is spelled out (an imported base image may have none). The server reads MOCKSTATUS_*
# only (flag > env > default). Outside a container it listens on loopback by default; in one it
# must listen on every address to be reachable through a published port. A mounted /scenarios
# replaces the examples. MOCKSTATUS_WORKERS (with MOCKSTATUS_STATE) runs several worker processes
# (docs/scale-out.md): the image has the redis client and the speed extra (uvloop, hiredis).
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MOCKSTATUS_HOST=0.0.0.0 \
    MOCKSTATUS_SCENARIOS=/scenarios

USER 10001:10001
EXPOSE 8080

# On SIGTERM the server stops accepting, lets in-flight requests finish for at most 5 s
# (MOCKSTATUS_SHUTDOWN_TIMEOUT) and cuts hung or streaming ones then: well under Docker's 10 s.
STOPSIGNAL SIGTERM
# A stdlib-only probe of GET /__mockstatus/health; it finds the server as the server configures
# itself: --host/--port on its command line, then MOCKSTATUS_HOST/MOCKSTATUS_PORT, then 8080.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "/opt/mockstatus/healthcheck.py"]

# Exec form: the server is PID 1 and receives SIGTERM itself. Extra `docker run` arguments are
# appended (`IMAGE --quiet`); the empty CMD drops any CMD inherited from the base image.
ENTRYPOINT ["/opt/venv/bin/mockstatus", "serve"]
CMD []
