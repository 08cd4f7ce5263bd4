#!/usr/bin/env bash
# What a flood of clients that never back off costs the local system when somebody else answers
# it: the gateway's `digits` cascade (edge agent as its edge tier, two cloud workers, as `Overload`
# runs them) at 16 kept-alive connections alone; the same 16 while 240 more connections flood an
# nginx on the same machine that answers every request with 503 at once (the cheapest refusal
# there is, in another process: the gateway does no work for the flood at all); and the gateway
# flooded itself at 256 connections (its own door refusing). wrk sends one second of a test clip
# as JSON on every connection and sends again as soon as it has an answer.
#
#   benchmarks/scripts/overload-floor.sh [rounds] > benchmarks/results/OverloadFloor.md
#
# Needs the programs built (`./mvnw -q install -DskipTests`), wrk, nginx, curl and python3
# (apt-get install wrk nginx-light). Ports 18180-18184 and 18199 on 127.0.0.1. ROUTE picks another
# route (digits-cloud, say); SECONDS_PER_PHASE sets each phase's length (8).
set -euo pipefail
cd "$(dirname "$0")/../.."
R=$PWD; ROUNDS=${1:-2}; ROUTE=${ROUTE:-digits}; T=${SECONDS_PER_PHASE:-8}
W=$(mktemp -d)
G=18180; E=18181; C1=18182; C2=18183; N=18199
PIDS=()
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
export ORT_DISABLE_TELEMETRY=1

# the shipped policies, and a tenant whose budget the run cannot spend (as Overload's `ample`)
mkdir -p "$W/policies" "$W/state" "$W/nginx"
cp config/policies/* "$W/policies/"
printf '  ample:\n    budget-usd: 1000000\n    when-spent: edge-only\n    allow: [auto, edge, cloud]\n' >> "$W/policies/tenants.yaml"
python3 benchmarks/scripts/wrk-bodies.py "$W" ../shared/datasets/fsdd/recordings/4_george_3.wav "X-Api-Key: key-ample"
cat > "$W/nginx.conf" <<EOF
worker_processes 2;
pid $W/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $W/nginx/body;
  server {
    listen 127.0.0.1:$N;
    location / { add_header Retry-After 1 always; return 503 '{"error": "overloaded"}'; }
  }
}
EOF

# the edge agent's launch options, as bin/hybridge-local starts it
EDGE_JVM_OPTS=$(sed -n 's/^EDGE_JVM_OPTS=\${EDGE_JVM_OPTS:-"\(.*\)"}$/\1/p' bin/hybridge-local)
# shellcheck disable=SC2086
java $EDGE_JVM_OPTS -jar edge-agent/target/edge-agent.jar --server.address=127.0.0.1 --server.port=$E \
  --hybridge.serving.model-repository="$R/models/demo/repository/edge" --hybridge.edge.uplink.url=http://127.0.0.1:$G \
  --hybridge.edge.device-id=floor --hybridge.edge.state-dir="$W/state" >"$W/edge.log" 2>&1 & EP=$!; PIDS+=($EP)
for port in $C1 $C2; do
  java -Xmx512m -jar cloud-worker/target/cloud-worker.jar --server.address=127.0.0.1 --server.port=$port \
    --hybridge.serving.model-repository="$R/models/demo/repository/cloud" >"$W/cloud-$port.log" 2>&1 & PIDS+=($!)
done
java -Xmx256m -jar gateway/target/gateway.jar --server.address=127.0.0.1 --server.port=$G \
  --hybridge.gateway.policy-folder="$W/policies" --hybridge.gateway.edge.addresses=http://127.0.0.1:$E \
  --hybridge.gateway.cloud.addresses=http://127.0.0.1:$C1,http://127.0.0.1:$C2 --hybridge.gateway.anonymous-tenant=demo \
  --hybridge.gateway.api-keys.key-ample=ample >"$W/gateway.log" 2>&1 & GP=$!; PIDS+=($GP)
nginx -c "$W/nginx.conf"
for port in $E $C1 $C2 $G; do
  for _ in $(seq 1 900); do curl -fs "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
done

URL=http://127.0.0.1:$G/v2/models/$ROUTE/infer
TICK=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
nginx_cpu() { local s=0; for p in $(pgrep -f "nginx: worker process"); do s=$((s + $(cpu "$p"))); done; echo $s; }
# one phase: wrk at $1 connections on the gateway for T s; with $2 = nginx, 240 more on nginx meanwhile
phase() {
  local g0 e0 n0 g1 e1 n1 out n non flood=""
  g0=$(cpu $GP); e0=$(cpu $EP); n0=$(nginx_cpu)
  if [ "$2" = nginx ]; then wrk -t1 -c240 -d${T}s --latency -s "$W/json.lua" "http://127.0.0.1:$N/flood" >"$W/flood.out" & local FW=$!; fi
  out=$(wrk -t1 -c"$1" -d${T}s --latency -s "$W/json.lua" "$URL")
  if [ "$2" = nginx ]; then
    wait $FW
    flood="$(awk '/Requests\/sec/{printf "%.0f", $2}' "$W/flood.out") (p99 $(awk '$1=="99%"{print $2}' "$W/flood.out"))"
  fi
  g1=$(cpu $GP); e1=$(cpu $EP); n1=$(nginx_cpu)
  n=$(echo "$out" | awk '/requests in/{print $1}'); non=$(echo "$out" | awk '/Non-2xx/{print $5}'); non=${non:-0}
  echo "$(( (n - non) / T ))|$(( non / T ))|$(echo "$out" | awk '$1=="50%"{print $2}')|${flood:--}|$(echo "scale=2; ($g1-$g0)/$TICK/$T" | bc)|$(echo "scale=2; ($e1-$e0)/$TICK/$T" | bc)|$(echo "scale=2; ($n1-$n0)/$TICK/$T" | bc)"
}

# warm-up: 16 connections until the gateway's and the edge agent's JIT compilers settle
. benchmarks/scripts/warm.sh
warm_up "$GP $EP" "$URL" "$W/json.lua"
warm=$WARMED
echo "# Overload floor"
echo
echo "- Date: $(date -u +%FT%TZ); $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- Command: \`benchmarks/scripts/overload-floor.sh $ROUNDS\` (ROUTE=$ROUTE, ${T} s phases); warm-up ${warm} s at 16 connections, until the JIT compilers settled (last 10 s: ${WARM_LAST}% of a CPU)"
echo
echo "| round | phase | 2xx/s | ratio to alone | refused/s by the gateway | 2xx p50 | nginx 503/s (refusal p99) | gateway CPUs | edge agent CPUs | nginx CPUs |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for round in $(seq 1 "$ROUNDS"); do
  alone=""
  for p in "16 alone" "16 nginx" "256 alone"; do
    # shellcheck disable=SC2086
    IFS='|' read -r ok refused p50 flood gw edge ngx <<<"$(phase $p)"
    [ -z "$alone" ] && alone=$ok
    case "$p" in
      "16 alone") name="16 connections, alone" ;;
      "16 nginx") name="16 connections, 240 more flooding nginx beside it" ;;
      *) name="256 connections on the gateway (its door refuses)" ;;
    esac
    echo "| $round | $name | $ok | $(echo "scale=2; $ok/$alone" | bc) | $refused | $p50 | $flood | $gw | $edge | $ngx |"
  done
done
