#!/usr/bin/env bash
# The test suite's system prerequisites, in one place.
#
#   scripts/test-prerequisites.sh check     (npm's pretest) names everything missing on one line
#                                           and exits 1; silent and fast when all is there
#   scripts/test-prerequisites.sh install   (npm run setup:test) installs what is missing from
#                                           Debian/Ubuntu packages and starts PostgreSQL and Redis
#   scripts/test-prerequisites.sh list      prints every prerequisite with its Debian package
#
# `npm run test:unit` needs none of this: only Node.
set -uo pipefail

mode="${1:-check}"
install_hint="npm run setup:test"

redis_url="${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
database_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# host and port of a URL (scheme://[user[:password]@]host[:port][/…]); IPv6 hosts in brackets
url_host_port() {
  local rest="${1#*://}" default_port="$2"
  rest="${rest%%/*}"
  rest="${rest##*@}"
  if [[ "$rest" =~ ^\[([^]]+)\](:([0-9]+))?$ ]] || [[ "$rest" =~ ^([^:]+)(:([0-9]+))?$ ]]; then
    printf '%s %s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[3]:-$default_port}"
  else
    printf '%s %s\n' "$rest" "$default_port"
  fi
}
read -r redis_host redis_port < <(url_host_port "$redis_url" 6379)
read -r pg_host pg_port < <(url_host_port "$database_url" 5432)

# True when something accepts connections on host:port (bash's /dev/tcp, so no client is needed).
port_open() {
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

redis_answers() {
  timeout 1 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "PING\r\n" >&3
    IFS= read -r reply <&3
    [[ "$reply" == "+PONG"* || "$reply" == "-NOAUTH"* ]]
  ' "$redis_host" "$redis_port" 2>/dev/null
}

postgres_bin_dir() {
  if [ -n "${PG_BIN_DIR:-}" ]; then
    [ -x "$PG_BIN_DIR/initdb" ] && echo "$PG_BIN_DIR"
    return
  fi
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_basebackup" ] && echo "$dir"
}

# Each prerequisite: a name for the message, the Debian packages that provide it, and its check.
# The Kafka tests run against librdkafka's mock cluster, built once with a C compiler and make
# (test/kafka/build-mock-broker.sh), unless KAFKA_BROKERS names a real Kafka.
names=() packages=() checks=()
need() { names+=("$1"); packages+=("$2"); checks+=("$3"); }
need "Redis at $redis_host:$redis_port (TEST_REDIS_URL)" "redis-server redis-tools" redis_answers
need "PostgreSQL at $pg_host:$pg_port (TEST_DATABASE_URL)" "postgresql" "port_open $pg_host $pg_port"
need "PostgreSQL server binaries initdb, pg_basebackup (PG_BIN_DIR)" "postgresql" postgres_bin_dir
need "promtool" "prometheus" "command -v promtool"
need "prometheus" "prometheus" "command -v prometheus"
need "kcat" "kcat" "command -v kcat"
# Debian's own Python, not a pyenv one on PATH: the mail-parsing tests read our messages with its email package.
need "/usr/bin/python3" "python3" "test -x /usr/bin/python3"
# Real mail software the deliverability tests send through and check with: a private Postfix
# instance per test file (strict about bare line ends), its smtp-sink, DKIM verifiers and SpamAssassin.
need "Postfix (postfix, smtp-sink)" "postfix" "test -x /usr/sbin/postfix && command -v smtp-sink"
need "python3-dkim (import dkim in /usr/bin/python3)" "python3-dkim" "/usr/bin/python3 -c 'import dkim'"
need "opendkim-testmsg" "opendkim-tools" "command -v opendkim-testmsg"
need "SpamAssassin (spamassassin)" "spamassassin" "command -v spamassassin"
# gRPC clients in other languages generated from proto/ (test/clients/): protoc with Google's
# well-known types; Go 1.19 with protoc-gen-go, protoc-gen-go-grpc and the Debian Go libraries (built
# offline in GOPATH mode; golang-github-golang-protobuf-1-5-dev, or apt picks the 1.3 library that
# compiles but panics at run time); grpcio and protobuf for Debian's /usr/bin/python3 with
# grpc_python_plugin (not python3-grpc-tools: its protoc 3.5 rejects proto3 optional).
need "protoc and the well-known types (libprotobuf-dev)" "protobuf-compiler libprotobuf-dev" \
  "protoc --version && test -f /usr/include/google/protobuf/struct.proto"
need "Go gRPC (go protoc-gen-go protoc-gen-go-grpc grpc-go genproto)" \
  "golang-go protoc-gen-go protoc-gen-go-grpc golang-google-protobuf-dev golang-google-grpc-dev golang-google-genproto-dev golang-github-golang-protobuf-1-5-dev" \
  "go version && command -v protoc-gen-go && command -v protoc-gen-go-grpc \
    && test -d /usr/share/gocode/src/google.golang.org/grpc/health/grpc_health_v1 \
    && test -d /usr/share/gocode/src/google.golang.org/genproto/googleapis/rpc/errdetails \
    && test -f /usr/share/gocode/src/github.com/golang/protobuf/proto/registry.go"
need "Python gRPC (grpc_python_plugin; import grpc in /usr/bin/python3)" \
  "protobuf-compiler-grpc python3-grpcio python3-protobuf" \
  "test -x /usr/bin/grpc_python_plugin && /usr/bin/python3 -c 'import grpc, google.protobuf'"
# The operator console's tests drive a real browser: Debian's Chromium through playwright-core (no
# browser download); CHROMIUM_PATH names another Chromium.
need "Chromium (${CHROMIUM_PATH:-/usr/bin/chromium})" "chromium" "test -x \"${CHROMIUM_PATH:-/usr/bin/chromium}\""
if [ -z "${KAFKA_BROKERS:-}" ] && [ -z "${KAFKA_MOCK_BROKER:-}" ]; then
  need "a C compiler (cc) and make" "build-essential" "command -v cc && command -v make"
fi

missing=() missing_packages=()
for i in "${!names[@]}"; do
  if ! eval "${checks[$i]}" >/dev/null 2>&1; then
    missing+=("${names[$i]}")
    missing_packages+=(${packages[$i]})
  fi
done

joined() { local out="" item; for item in "$@"; do out+="${out:+, }$item"; done; echo "$out"; }

case "$mode" in
  check)
    if [ "${#missing[@]}" -gt 0 ]; then
      echo "npm test: missing $(joined "${missing[@]}"); install or start them with: $install_hint" >&2
      exit 1
    fi
    exit 0
    ;;
  list)
    for i in "${!names[@]}"; do printf '%-70s Debian: %s\n' "${names[$i]}" "${packages[$i]}"; done
    exit 0
    ;;
  install) ;;
  *)
    echo "usage: $0 check|install|list" >&2
    exit 2
    ;;
esac

# --- install ------------------------------------------------------------------------------------
set -e
log() { printf '== %s\n' "$*"; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
local_host() { [[ "$1" == 127.0.0.1 || "$1" == localhost || "$1" == ::1 ]]; }

if [ "${#missing[@]}" -eq 0 ]; then
  log "test prerequisites: all present"
  exit 0
fi
log "test prerequisites missing: $(joined "${missing[@]}")"

# Only packages for what is actually absent: a service that is merely stopped needs no package.
apt_packages=()
for package in $(printf '%s\n' "${missing_packages[@]}" | sort -u); do
  case "$package" in
    redis-server) command -v redis-server >/dev/null || apt_packages+=(redis-server redis-tools) ;;
    redis-tools) ;;
    postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_packages+=(postgresql) ;;
    *) apt_packages+=("$package") ;;
  esac
done
fresh_postgres=0
if [ "${#apt_packages[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup:test installs with apt-get (Debian/Ubuntu); on this system install: ${apt_packages[*]}" >&2
    exit 1
  fi
  [[ " ${apt_packages[*]} " == *" postgresql "* ]] && fresh_postgres=1
  log "apt-get install ${apt_packages[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_packages[@]}"
fi

if ! redis_answers; then
  if ! local_host "$redis_host"; then
    echo "Redis at $redis_host:$redis_port does not answer, and it is not on this machine" >&2
    exit 1
  fi
  log "starting Redis on port $redis_port"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/tests.log
fi

pg_version="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)"
if [ "$fresh_postgres" = 1 ]; then
  # A new Debian cluster asks for passwords over TCP; the tests connect as postgres with trust.
  hba="/etc/postgresql/$pg_version/main/pg_hba.conf"
  $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
fi
if ! port_open "$pg_host" "$pg_port"; then
  if ! local_host "$pg_host"; then
    echo "PostgreSQL at $pg_host:$pg_port does not answer, and it is not on this machine" >&2
    exit 1
  fi
  log "starting PostgreSQL $pg_version"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
elif [ "$fresh_postgres" = 1 ]; then
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$pg_version" main reload
fi

for _ in $(seq 1 30); do redis_answers && port_open "$pg_host" "$pg_port" && break; sleep 1; done
exec "$0" check
