#!/usr/bin/env bash
# Herold's public documents side by side with nginx serving the same bytes
# as static files, in one run on this machine (docs/benchmarks.md, "Public
# documents").
#
#   scripts/bench-public.sh [SECONDS]      (default 10 s per measurement)
#
# Seeds a fresh SQLite database with 30 announcements (a feed of about
# 25 KB), starts a release `herold serve`, saves what it answers for each
# path as files, serves those with nginx (one worker process), and runs
# `wrk -t1 -c32` against both: full answers, then `If-None-Match` with each
# server's own ETag (304). Both log every request to a file. Installs wrk
# and nginx (Debian packages) if missing. Prints a Markdown table.
#
# Environment: CARGO_TARGET_DIR (optional), HEROLD_BENCH_PORT (18080; nginx
# uses the next port).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-10}"
PORT="${HEROLD_BENCH_PORT:-18080}"
NGINX_PORT=$((PORT + 1))
TARGET="${CARGO_TARGET_DIR:-target}"

step() { printf '==> %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    step "installing wrk and nginx (Debian packages)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk nginx-light >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

step "building herold (release)"
cargo build --release --locked --quiet --bin herold
HEROLD="$TARGET/release/herold"

WORK="$(mktemp -d)"
cleanup() {
    [ -n "${HEROLD_PID:-}" ] && kill "$HEROLD_PID" 2>/dev/null || true
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

export HEROLD_DATABASE_URL="$WORK/herold.db"
export HEROLD_LISTEN="127.0.0.1:$PORT"
export HEROLD_PUBLIC_URL="https://info.musterstadt.de/"
export HEROLD_SITE_NAME="Gemeinde Musterstadt"

step "seeding 30 announcements"
"$HEROLD" category add abfall --name "Abfall und Wertstoffe" >/dev/null
"$HEROLD" category add verkehr --name "Verkehr und Baustellen" >/dev/null
BODY="Die Abholung der **Wertstofftonnen** verschiebt sich wegen des Feiertags um einen Tag. \
Bitte stellen Sie die Tonnen bis 6 Uhr an den Straßenrand. Weitere Termine finden Sie im \
[Abfallkalender](https://info.musterstadt.de/abfall). Bei Fragen hilft das Bürgerbüro \
montags bis freitags von 8 bis 12 Uhr weiter."
for i in $(seq 1 30); do
    cat=abfall; [ $((i % 3)) -eq 0 ] && cat=verkehr
    extra=()
    [ $((i % 2)) -eq 0 ] && extra=(--event-start "2026-12-$(printf %02d $((i % 28 + 1)))" --location "Rathaus")
    "$HEROLD" publish --category "$cat" --title "Mitteilung $i: Änderungen im Dezember" \
        --body "$BODY" "${extra[@]}" >/dev/null
done

step "starting herold serve on :$PORT"
HEROLD_DELIVERY__WORKERS_IN_SERVE=false "$HEROLD" serve 2>"$WORK/herold.log" &
HEROLD_PID=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break
    sleep 0.1
done

PATHS=(/feeds/all.atom /feeds/all.rss /feeds/all.ics / /announcements/1)
mkdir -p "$WORK/www/feeds" "$WORK/www/announcements"
for p in "${PATHS[@]}"; do
    f="$WORK/www$p"; [ "$p" = / ] && f="$WORK/www/index.html"
    curl -fs "http://127.0.0.1:$PORT$p" -o "$f"
done

cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log $WORK/nginx-access.log;
    client_body_temp_path $WORK/tmp;
    proxy_temp_path $WORK/tmp;
    fastcgi_temp_path $WORK/tmp;
    uwsgi_temp_path $WORK/tmp;
    scgi_temp_path $WORK/tmp;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
        location /feeds/ { types { } default_type application/atom+xml; }
        location /announcements/ { types { } default_type text/html; }
        location = / { types { } default_type text/html; index index.html; }
    }
}
EOF
mkdir -p "$WORK/tmp"
"$NGINX" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"

# Requests per second of one wrk run: URL, then optional header.
rps() {
    local args=(-t1 -c32 "-d${SECONDS_EACH}s" "$1")
    [ -n "${2:-}" ] && args+=(-H "$2")
    wrk "${args[@]}" | awk '/Requests\/sec/ { printf "%d", $2 }'
}
etag() { curl -fsI "$1" | awk -F': ' 'tolower($1) == "etag" { gsub("\r", "", $2); print $2 }'; }

bytes() { curl -fs "$1" | wc -c; }

echo
echo "| path | bytes | nginx 200/s | Herold 200/s | ratio | nginx 304/s | Herold 304/s | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for p in "${PATHS[@]}"; do
    h="http://127.0.0.1:$PORT$p"
    n="http://127.0.0.1:$NGINX_PORT$p"
    n200=$(rps "$n")
    h200=$(rps "$h")
    n304=$(rps "$n" "If-None-Match: $(etag "$n")")
    h304=$(rps "$h" "If-None-Match: $(etag "$h")")
    awk -v p="$p" -v b="$(bytes "$h")" -v a="$n200" -v c="$h200" -v d="$n304" -v e="$h304" \
        'BEGIN { printf "| `%s` | %d | %d | %d | %.2f× | %d | %d | %.2f× |\n", p, b, a, c, c / a, d, e, e / d }'
done
