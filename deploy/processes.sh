#!/usr/bin/env bash
# Plain-process deployment of 冬训问答助手 on one machine: one Chroma server shared by N web-app
# replicas (and by the ingest CLI). No containers; every process is started in its own session,
# its pid and log kept in DEPLOY_RUN_DIR. tests/scale/test_shared_server.py runs exactly this script.
#
#   deploy/processes.sh start              # the Chroma server, then the replicas one by one, each waited for
#   deploy/processes.sh ingest [PATH ...]  # python -m ingest against the shared server (default: the knowledge folder)
#   deploy/processes.sh status             # which processes are running, and their addresses
#   deploy/processes.sh stop               # stop everything this script started
#
# Configuration (environment variables; defaults in brackets):
#   DEPLOY_RUN_DIR   [var/deploy]          pid files, logs, and each replica's local folder (BM25 index, caches)
#   CHROMA_DATA      [$DEPLOY_RUN_DIR/chroma]  the Chroma server's data folder (the one copy of the knowledge)
#   CHROMA_HOST      [127.0.0.1]           address the Chroma server listens on and the apps connect to
#   CHROMA_PORT      [8000]
#   APP_HOST         [127.0.0.1]           address the replicas listen on (0.0.0.0 behind a proxy on another host)
#   APP_PORTS        ["7860 7861"]         one replica per port
#   PYTHON           [.venv/bin/python, else python3]
#   CHROMA_BIN       [the chroma beside $PYTHON]
#   START_TIMEOUT    [300]                 seconds to wait for each process to answer
# Every DONGXUN_* variable (DONGXUN_ADMIN_TOKEN, DONGXUN_KNOWLEDGE_DIR, DONGXUN_LLM_BASE_URL, ...) is passed
# through to the replicas and the ingest CLI unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_DIR="${DEPLOY_RUN_DIR:-var/deploy}"
CHROMA_DATA="${CHROMA_DATA:-$RUN_DIR/chroma}"
CHROMA_HOST="${CHROMA_HOST:-127.0.0.1}"
CHROMA_PORT="${CHROMA_PORT:-8000}"
APP_HOST="${APP_HOST:-127.0.0.1}"
APP_PORTS="${APP_PORTS:-7860 7861}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
CHROMA_BIN="${CHROMA_BIN:-$(dirname "$(command -v "$PYTHON")")/chroma}"
START_TIMEOUT="${START_TIMEOUT:-300}"
STOP_TIMEOUT=10

# wait_http URL: until GET URL answers 2xx, or fail after START_TIMEOUT seconds (or when PID dies).
wait_http() {
  local url="$1" pid="$2"
  "$PYTHON" - "$url" "$pid" "$START_TIMEOUT" <<'PY'
import os, sys, time, urllib.request
url, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(f"process {pid} exited before {url} answered")
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if 200 <= r.status < 300:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.3)
sys.exit(f"{url} did not answer within {timeout:.0f} s")
PY
}

# launch NAME CMD...: start CMD in its own session with the shared-server settings, log and pid in RUN_DIR.
launch() {
  local name="$1"; shift
  if [[ -f "$RUN_DIR/$name.pid" ]] && kill -0 "$(cat "$RUN_DIR/$name.pid")" 2>/dev/null; then
    echo "$name 已在运行（pid $(cat "$RUN_DIR/$name.pid")）" >&2
    return 0
  fi
  setsid "$@" >"$RUN_DIR/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

shared_env() {
  export DONGXUN_CHROMA_HOST="$CHROMA_HOST" DONGXUN_CHROMA_PORT="$CHROMA_PORT"
}

start() {
  mkdir -p "$RUN_DIR" "$CHROMA_DATA"
  launch chroma "$CHROMA_BIN" run --path "$CHROMA_DATA" --host "$CHROMA_HOST" --port "$CHROMA_PORT"
  wait_http "http://$CHROMA_HOST:$CHROMA_PORT/api/v2/heartbeat" "$(cat "$RUN_DIR/chroma.pid")" \
    || { echo "Chroma 服务器没有启动，见 $RUN_DIR/chroma.log" >&2; exit 1; }
  echo "Chroma 服务器：http://$CHROMA_HOST:$CHROMA_PORT" >&2
  shared_env
  # One at a time: the first replica ingests the knowledge folder when the shared store is empty,
  # the next ones find it filled.
  for port in $APP_PORTS; do
    launch "app-$port" "$PYTHON" -m bot.app --host "$APP_HOST" --port "$port" --kb "$RUN_DIR/app-$port"
    wait_http "http://$APP_HOST:$port/" "$(cat "$RUN_DIR/app-$port.pid")" \
      || { echo "端口 $port 的网页没有启动，见 $RUN_DIR/app-$port.log" >&2; exit 1; }
    echo "网页副本：http://$APP_HOST:$port/" >&2
  done
}

ingest() {
  shared_env
  "$PYTHON" -m ingest --kb "$RUN_DIR/cli" ingest --quiet "$@"
}

status() {
  local pidfile name
  for pidfile in "$RUN_DIR"/*.pid; do
    [[ -e "$pidfile" ]] || { echo "没有由本脚本启动的进程。" >&2; return 0; }
    name="$(basename "$pidfile" .pid)"
    if kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "$name 运行中（pid $(cat "$pidfile")）"
    else
      echo "$name 已停止"
    fi
  done
}

stop() {
  local pidfile pid i
  for pidfile in "$RUN_DIR"/*.pid; do
    [[ -e "$pidfile" ]] || continue
    pid="$(cat "$pidfile")"
    # Each process leads its own session (setsid), so its group holds its children too.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    echo "已停止 $(basename "$pidfile" .pid)" >&2
  done
}

case "${1:-}" in
  start) start ;;
  ingest) shift; ingest "$@" ;;
  status) status ;;
  stop) stop ;;
  *) echo "用法：$0 start | ingest [PATH ...] | status | stop" >&2; exit 2 ;;
esac
