# syntax=docker/dockerfile:1
# The StreamSuites runtime as a container: `ss` on a slim Debian with FFmpeg, as a non-root user,
# with the runtime root as a volume at /data.
#
#   docker build -t streamsuites/ss .
#   docker run --rm -v "$PWD/stream:/data" streamsuites/ss init /data --platforms twitch
#   docker run -d --name ss -v "$PWD/stream:/data" streamsuites/ss
#
# `docker stop` sends SIGTERM, which ss handles as Ctrl-C on a terminal: the sources stop, everything
# accepted is recorded, the final exports are written. The health check is `ss status`.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin ss \
    && strip target/release/ss

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --create-home --home-dir /home/ss --shell /usr/sbin/nologin ss \
    && mkdir /data && chown ss:ss /data
COPY --from=build /src/target/release/ss /usr/local/bin/ss
USER ss
WORKDIR /data
VOLUME ["/data"]
ENV SS_ROOT=/data
# The local HTTP server (system.json "http"), when enabled with "listen": "0.0.0.0:8765".
EXPOSE 8765
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["ss", "status"]
# tini reaps FFmpeg children and passes SIGTERM on to ss.
ENTRYPOINT ["tini", "--", "ss"]
CMD ["run"]
