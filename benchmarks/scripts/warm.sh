# Sourced by the load scripts: warm programs up until their JIT compilers settle, as Bench.warmUntilCompiled
# does for the Java benchmarks (on 2 shared CPUs the gateway keeps about one CPU compiling for one to three
# minutes of load; phases measured meanwhile compare compiling, not serving).

# the compiler threads' CPU ticks (user + system) of a process
jit() { local s=0 f; for f in /proc/"$1"/task/*/stat; do grep -q "(C[12] CompilerThre" "$f" 2>/dev/null && s=$((s + $(awk '{print $14+$15}' "$f"))); done; echo $s; }

# warm_up "PID..." URL LUA: wrk at 16 connections in 10 s slices until the processes' JIT compilers used
# under a tenth of one CPU over a slice; at least 30 s, at most 300 s. Sets WARMED (seconds) and
# WARM_LAST (percent of a CPU the compilers used in the last slice).
warm_up() {
  local pids=$1 url=$2 lua=$3 tick j0 j1 p
  tick=$(getconf CLK_TCK); WARMED=0
  while [ "$WARMED" -lt 300 ]; do
    j0=0; for p in $pids; do j0=$((j0 + $(jit "$p"))); done
    wrk -t1 -c16 -d10s -s "$lua" "$url" >/dev/null
    WARMED=$((WARMED + 10))
    j1=0; for p in $pids; do j1=$((j1 + $(jit "$p"))); done
    WARM_LAST=$(( (j1 - j0) * 10 / tick ))
    [ "$WARMED" -ge 30 ] && [ $((j1 - j0)) -lt "$tick" ] && break
  done
  return 0
}
