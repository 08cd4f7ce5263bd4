#!/usr/bin/env bash
# Side by side, two builds of the programs: the gateway's `digits` cascade with the edge agent as
# its edge tier and a cloud worker (as bin/hybridge-local runs them, on ports 18080-18082), 16
# kept-alive connections (wrk) sending one confident clip, as JSON and as binary tensor data;
# throughput, p50 and each program's CPU per request from /proc. Each build is started afresh and
# warmed up until its JIT compilers settle (benchmarks/scripts/warm.sh).
#
#   benchmarks/scripts/cascade-ab.sh DIR_A DIR_B [rounds]
#
# DIR_A and DIR_B each hold gateway.jar, edge-agent.jar and cloud-worker.jar (copy them from the
# modules' target/ folders after `./mvnw -q install -DskipTests` at each commit). EDGE_REPO
# overrides the edge model folder; GATEWAY_ARGS_A and GATEWAY_ARGS_B add settings to each side's
# gateway (the same jars twice with different settings, say). Needs wrk, curl, bc and python3
# (apt-get install wrk bc).
set -euo pipefail
cd "$(dirname "$0")/../.."
R=$PWD; A=$1; B=$2; ROUNDS=${3:-2}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
G=18080; E=18081; C=18082
export ORT_DISABLE_TELEMETRY=1
python3 benchmarks/scripts/wrk-bodies.py "$W" ../shared/datasets/fsdd/recordings/7_george_3.wav
EDGE_JVM_OPTS="-XX:+UseSerialGC -Xms16m -Xmx96m -XX:MaxMetaspaceSize=96m -XX:ReservedCodeCacheSize=32m -Xss512k -XX:MaxDirectMemorySize=32m -XX:TieredStopAtLevel=1 -Dreactor.netty.ioWorkerCount=1 -Dio.netty.allocator.type=unpooled"
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
. benchmarks/scripts/warm.sh
run() { # jars label
  local J=$1 L=$2
  # shellcheck disable=SC2086
  java $EDGE_JVM_OPTS -jar "$J/edge-agent.jar" --server.address=127.0.0.1 --server.port=$E \
    --hybridge.serving.model-repository="${EDGE_REPO:-$R/models/demo/repository/edge}" \
    --hybridge.edge.uplink.url=http://127.0.0.1:$G --hybridge.edge.device-id=ab --hybridge.edge.state-dir="$W/state-$L" \
    >"$W/edge.log" 2>&1 & local EP=$!
  java -Xmx512m -jar "$J/cloud-worker.jar" --server.address=127.0.0.1 --server.port=$C \
    --hybridge.serving.model-repository="$R/models/demo/repository/cloud" >"$W/cloud.log" 2>&1 & local CP=$!
  java -Xmx256m -jar "$J/gateway.jar" --server.address=127.0.0.1 --server.port=$G --hybridge.gateway.policy-folder="$R/config/policies" \
    --hybridge.gateway.edge.addresses=http://127.0.0.1:$E --hybridge.gateway.cloud.addresses=http://127.0.0.1:$C \
    --hybridge.gateway.anonymous-tenant=demo $(eval echo "\${GATEWAY_ARGS_$L:-}") >"$W/gateway.log" 2>&1 & local GP=$!
  for p in $E $C $G; do
    for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$p/v2/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
  done
  warm_up "$GP $EP" "http://127.0.0.1:$G/v2/models/digits/infer" "$W/json.lua"
  echo "build $L warmed up ${WARMED} s (compilers at ${WARM_LAST}% of a CPU in the last 10 s)" >&2
  for body in json bin; do
    wrk -t1 -c16 -d8s -s "$W/$body.lua" "http://127.0.0.1:$G/v2/models/digits/infer" >/dev/null
    local g0 e0 g1 e1 out n
    g0=$(cpu $GP); e0=$(cpu $EP)
    out=$(wrk -t1 -c16 -d15s --latency -s "$W/$body.lua" "http://127.0.0.1:$G/v2/models/digits/infer")
    g1=$(cpu $GP); e1=$(cpu $EP)
    n=$(echo "$out" | awk '/requests in/{print $1}')
    echo "| $L | $body | $(echo "$out" | awk '/Requests\/sec/{print $2}') | $(echo "$out" | awk '$1=="50%"{print $2}') |" \
      "$(echo "$out" | awk '/Non-2xx/{print $5}' | grep . || echo 0) | $(echo "scale=3; ($g1-$g0)*1000/$(getconf CLK_TCK)/$n" | bc) |" \
      "$(echo "scale=3; ($e1-$e0)*1000/$(getconf CLK_TCK)/$n" | bc) |"
  done
  kill $EP $CP $GP; wait $EP $CP $GP 2>/dev/null || true
}
echo "| build | body | 2xx/s | p50 | non-2xx | gateway CPU ms/request | edge agent CPU ms/request |"
echo "|---|---|---:|---:|---:|---:|---:|"
for _ in $(seq 1 "$ROUNDS"); do run "$A" A; run "$B" B; done
