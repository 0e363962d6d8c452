# sluice in a container: built on Debian bookworm from Debian packages (as scripts/setup does),
# run as a non-root user with the state directory on a volume. For machines with Docker:
#
#   docker build -t sluice .
#   docker run --rm -v sluice-state:/var/lib/sluice -v $PWD/my.yaml:/etc/sluice/sluice.yaml:ro \
#     -e SLUICE_HTTP_TOKEN=... -p 8080:8080 sluice
#
# The image listens on 0.0.0.0:8080 only if the config says so; /healthz stays open, /status
# and /metrics then need http.token.

FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config git ca-certificates \
      libpq-dev librdkafka-dev nlohmann-json3-dev libyaml-cpp-dev catch2 \
      libcurl4-openssl-dev libhiredis-dev libspdlog-dev libfmt-dev libcli11-dev \
      libcpp-httplib-dev libssl-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .git is in the context so that `sluice --version` names the commit.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    && cmake --build /build --target sluice -j"$(nproc)" \
    && strip /build/sluice

FROM debian:bookworm-slim
# Runtime libraries only; curl for the health check.
RUN apt-get update && apt-get install -y --no-install-recommends \
      libpq5 librdkafka1 libyaml-cpp0.7 libcurl4 libhiredis0.14 libspdlog1.10 libfmt9 libcpp-httplib0.11 \
      zlib1g ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system sluice \
    && useradd --system --gid sluice --home-dir /var/lib/sluice --shell /usr/sbin/nologin sluice \
    && mkdir -p /var/lib/sluice /etc/sluice \
    && chown sluice:sluice /var/lib/sluice
COPY --from=build /build/sluice /usr/local/bin/sluice
COPY config/ /etc/sluice/
USER sluice
WORKDIR /var/lib/sluice
VOLUME ["/var/lib/sluice"]
EXPOSE 8080
# /healthz answers 503 when a pipeline thread is wedged; the orchestrator restarts us, which
# is safe (only what every sink made durable was confirmed).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
# SIGTERM drains and exits 0 within shutdown_timeout: give docker stop at least that long
# (docker stop -t 40, or stop_grace_period in compose).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["run", "-c", "/etc/sluice/sluice.yaml"]
