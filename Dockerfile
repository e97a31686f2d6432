# switchyard and the fake provider, built from source on Debian.
# libcurl from bookworm-backports (8.x: less memory per HTTP/2 call in flight
# than bookworm's 7.88; scripts/deps.sh does the same, bench/README.md).
FROM debian:bookworm AS build
RUN echo "deb http://deb.debian.org/debian bookworm-backports main" >/etc/apt/sources.list.d/backports.list \
    && apt-get update && apt-get install -y --no-install-recommends -t bookworm-backports libcurl4-openssl-dev \
    && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config librdkafka-dev libssl-dev libnghttp2-dev \
      libmsgpack-dev liblmdb-dev libyaml-dev libjansson-dev libcmocka-dev libjemalloc-dev libmicrohttpd-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j"$(nproc)" \
      --target switchyard fake-provider

FROM debian:bookworm-slim
RUN echo "deb http://deb.debian.org/debian bookworm-backports main" >/etc/apt/sources.list.d/backports.list \
    && apt-get update && apt-get install -y --no-install-recommends -t bookworm-backports libcurl4 \
    && apt-get install -y --no-install-recommends \
      librdkafka1 libmsgpackc2 liblmdb0 libyaml-0-2 libjansson4 libjemalloc2 libmicrohttpd12 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/switchyard /src/build/fake-provider /usr/local/bin/
COPY pipelines /etc/switchyard/pipelines
WORKDIR /var/lib/switchyard
ENTRYPOINT ["switchyard"]
