#!/usr/bin/env bash
# Builds the tests' Kafka broker (mock-broker.c on librdkafka's mock cluster) and prints its path.
# librdkafka's source comes from the npm package @confluentinc/kafka-javascript, which bundles a
# recent release: Debian's 2.0.2 has no idempotent producer in its mock cluster and delays every
# group join by 3 s. The ~45 s build is cached by librdkafka version and program source.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
package="@confluentinc/kafka-javascript@1.10.1"
cache="${EMAIL_WORKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/email-worker}/kafka-mock-broker"
key="$(printf '%s\n' "$package" | cat - "$here/mock-broker.c" | sha256sum | cut -c1-16)"
binary="$cache/$key/mock-broker"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

for tool in cc make; do
  command -v "$tool" >/dev/null || { echo "build-mock-broker: $tool is missing (apt-get install build-essential)" >&2; exit 1; }
done
mkdir -p "$cache"
work="$(mktemp -d "$cache/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  npm pack --silent "$package" >/dev/null
  tar xzf ./*.tgz package/deps/librdkafka
  cd package/deps/librdkafka
  # (mklove reads any ./configure.* file as a module, hence logs outside the tree)
  ./configure --disable-ssl --disable-gssapi --disable-sasl --disable-curl --disable-zstd \
    --disable-lz4-ext --disable-zlib --disable-syslog >"$work/configure.out" 2>&1 || { cat "$work/configure.out" >&2; exit 1; }
  make -j"$(nproc)" -C src librdkafka.a >"$work/make.out" 2>&1 || { tail -50 "$work/make.out" >&2; exit 1; }
  cc -O2 -Wall -Isrc -o "$work/mock-broker" "$here/mock-broker.c" src/librdkafka.a -lpthread -lm -ldl
) >&2
mkdir -p "$cache/$key"
# Parallel test runs may race to build: the rename makes the binary appear whole or not at all.
mv "$work/mock-broker" "$binary.$$" && mv -f "$binary.$$" "$binary"
echo "$binary"
