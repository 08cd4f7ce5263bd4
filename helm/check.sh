#!/usr/bin/env bash
# Checks the Helm chart helm/hybridge on a machine without helm, a cluster or Docker:
#
#   1. builds helm/tools/render: Go's text/template with Sprig v3 (Helm's engine and function
#      library), Helm's own functions and objects written again, values.schema.json checked with
#      gojsonschema (what Helm 3 used up to 3.17). It is not Helm; see its header comment;
#   2. renders the chart with every values file in helm/hybridge/ci/ in strict mode (a missing
#      map key is an error, as in `helm lint --strict`), refusing YAML that does not parse or a
#      document without apiVersion/kind/metadata.name, and checks that every .Values.x.y path the
#      templates use exists in values.yaml and that every values.yaml key has a comment;
#   3. checks every rendered object against the Kubernetes 1.32 API models (client-java's
#      generated classes refuse unknown fields and wrong types) and the chart's own rules
#      (helm/tools/validate/Validate.java);
#   4. renders values that must be refused and checks that they are, with the expected message,
#      and checks on a broken copy of the chart that steps 2 and 3 catch what they claim to.
#
# Needs: Debian's golang-go and Go libraries (the script names the apt-get line when missing),
# Java 17, and the Maven wrapper (fetches client-java-api from Maven Central once).
# Usage: helm/check.sh            (from anywhere; exits non-zero on the first failing step)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CHART=helm/hybridge
NAMESPACE=hybridge-check
started=$(date +%s)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hybridge-helm-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*"; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

# --- prerequisites -------------------------------------------------------------------------------
GOLIBS=/usr/share/gocode/src
missing=()
command -v go >/dev/null || missing+=(golang-go)
[ -d "$GOLIBS/github.com/Masterminds/sprig" ] || missing+=(golang-github-masterminds-sprig-dev)
[ -d "$GOLIBS/github.com/xeipuuv/gojsonschema" ] || missing+=(golang-github-xeipuuv-gojsonschema-dev)
[ -d "$GOLIBS/sigs.k8s.io/yaml" ] || missing+=(golang-k8s-sigs-yaml-dev)
[ -d "$GOLIBS/github.com/gobwas/glob" ] || missing+=(golang-github-gobwas-glob-dev)
if [ ${#missing[@]} -gt 0 ]; then
  die "missing Debian packages; install them with: apt-get install ${missing[*]}"
fi
command -v java >/dev/null || die "java (17 or later) is not on the PATH"

# --- 0. the policies link ----------------------------------------------------------------------
link=$CHART/files/policies
[ -L "$link" ] || die "$link must be a symbolic link to ../../../config/policies (not a copy)"
[ "$(readlink "$link")" = "../../../config/policies" ] || die "$link points at $(readlink "$link")"
ls "$link"/*.yaml >/dev/null 2>&1 || die "$link does not resolve to a folder of policies"
say "ok: $link -> $(readlink "$link") ($(ls "$link"/*.yaml | wc -l) policy files)"

# --- 1. the renderer -----------------------------------------------------------------------------
# GOPATH mode against Debian's packaged sources; the go.mod beside main.go makes Go resolve the
# /v3 import paths to Debian's folders (minimal module compatibility).
mkdir -p "$WORK/gopath/src/hybridge-render"
cp helm/tools/render/main.go helm/tools/render/go.mod "$WORK/gopath/src/hybridge-render/"
(cd "$WORK/gopath/src/hybridge-render" &&
  GO111MODULE=off GOPATH="$WORK/gopath:/usr/share/gocode" GOCACHE="${GOCACHE:-$HOME/.cache/go-build}" \
    go build -o "$WORK/render" .) || die "could not build helm/tools/render"
say "ok: built helm/tools/render ($(go version | cut -d' ' -f3), Debian's sprig, gojsonschema, sigs.k8s.io/yaml)"

# --- 2 and 3. render every ci/ values file and validate the result --------------------------------
./mvnw -q -B -ntp -f helm/tools/validate/pom.xml dependency:build-classpath \
  -Dmdep.outputFile="$WORK/validate.cp" -Dmdep.includeScope=runtime >"$WORK/mvn.log" 2>&1 ||
  { cat "$WORK/mvn.log" >&2; die "could not resolve helm/tools/validate's classpath"; }

for values in "$CHART"/ci/*.yaml; do
  case_name=$(basename "$values" .yaml)
  say "--- $case_name"
  "$WORK/render" -strict -check-refs -check-comments -name hybridge-check -namespace "$NAMESPACE" -f "$values" \
    -json "$WORK/$case_name.jsonl" "$CHART" >"$WORK/$case_name.yaml" || die "rendering with $values"
  # Helm's default (non-strict) mode must render the same manifests.
  "$WORK/render" -name hybridge-check -namespace "$NAMESPACE" -f "$values" "$CHART" >"$WORK/$case_name.lenient.yaml" ||
    die "rendering with $values (non-strict)"
  cmp -s "$WORK/$case_name.yaml" "$WORK/$case_name.lenient.yaml" || die "strict and non-strict renders differ for $values"
  say "ok: rendered $(grep -c "^# Source:" "$WORK/$case_name.yaml") documents; every .Values path defined, every value commented"
  java -cp "$(cat "$WORK/validate.cp")" helm/tools/validate/Validate.java "$NAMESPACE" "$WORK/$case_name.jsonl" ||
    die "validating the manifests of $values (rendered: keep them with HYBRIDGE_CHECK_KEEP=1)"
  if [ -n "${HYBRIDGE_CHECK_KEEP:-}" ]; then
    mkdir -p "$ROOT/helm/.rendered" && cp "$WORK/$case_name.yaml" "$ROOT/helm/.rendered/"
  fi
done
"$WORK/render" -notes -name hybridge-check -namespace "$NAMESPACE" "$CHART" 2>"$WORK/notes.txt" >/dev/null
grep -q "helm test hybridge-check" "$WORK/notes.txt" || die "NOTES.txt did not render"
say "ok: NOTES.txt renders"

# --- 4. values that must be refused --------------------------------------------------------------
refused() { # description, expected message (grep -E), values YAML, [extra render flags]
  printf '%s\n' "$3" >"$WORK/bad.yaml"
  if "$WORK/render" -name hybridge-check -namespace "$NAMESPACE" -f "$WORK/bad.yaml" ${4:-} "$CHART" \
      >/dev/null 2>"$WORK/bad.err"; then
    die "$1: rendered, but must be refused"
  fi
  grep -Eq "$2" "$WORK/bad.err" || { cat "$WORK/bad.err" >&2; die "$1: refused without the expected message /$2/"; }
  say "ok: refused $1"
}
say "--- values that must be refused"
refused "a misspelt key" "timout.*not allowed|not allowed.*timout" \
  $'gateway:\n  config:\n    cloud:\n      timout: 5s'
refused "a duration Spring Boot cannot read" "timeout.*(match|pattern)" \
  $'gateway:\n  config:\n    cloud:\n      timeout: 5 seconds'
refused "an API key with a bracket" "keys.*(match|pattern)|(match|pattern).*keys" \
  $'gateway:\n  apiKeys:\n    keys:\n      "bad]key": acme'
refused "keys and an existing Secret at once" "set either keys" \
  $'gateway:\n  apiKeys:\n    keys:\n      k1: acme\n    existingSecret: mine'
refused "workers without models" "the workers need models" \
  $'models:\n  image:\n    repository: ""'
refused "minReplicas above maxReplicas" "minReplicas .* must not be more than maxReplicas" \
  $'gateway:\n  autoscaling:\n    minReplicas: 5\n    maxReplicas: 2'
refused "a policy file not named .yaml" "policies.*(match|pattern)|(match|pattern).*policies" \
  $'gateway:\n  policies:\n    digits.txt: "version: 1"'
refused "an integer given as text" "replicaCount.*(Invalid type|integer)" \
  $'cloudWorker:\n  replicaCount: "2"'
refused "a Kubernetes older than the chart supports" "incompatible with Kubernetes" '{}' "-kube-version v1.24.0"

# --- 5. the checks themselves catch what they claim to ------------------------------------------
say "--- the checks catch known defects"
cp -rL "$CHART" "$WORK/broken"   # -L: a real folder in place of the policies link
printf '\nundocumented: 1\n' >>"$WORK/broken/values.yaml"
"$WORK/render" -check-comments "$WORK/broken" >/dev/null 2>"$WORK/broken.err" && die "-check-comments missed an uncommented key"
grep -q "undocumented" "$WORK/broken.err" || die "-check-comments did not name the uncommented key"
say "ok: an uncommented value is reported"
cp "$CHART/values.yaml" "$WORK/broken/values.yaml"
printf '{{ .Values.gateway.config.tiemout }}\n' >"$WORK/broken/templates/typo.yaml"
"$WORK/render" -check-refs "$WORK/broken" >/dev/null 2>"$WORK/broken.err" && die "-check-refs missed an undefined .Values path"
grep -q "gateway.config.tiemout" "$WORK/broken.err" || die "-check-refs did not name the undefined path"
say "ok: a template reading an undefined value is reported"
rm "$WORK/broken/templates/typo.yaml"
sed -i 's/publishNotReadyAddresses: false/publishNotReadyAddress: false/' "$WORK/broken/templates/cloud-worker-service.yaml"
sed -i '/define "hybridge.selectorLabels"/,/end/ s/^app.kubernetes.io\/component: {{ .component }}$/&\napp.kubernetes.io\/version: {{ .root.Chart.AppVersion | quote }}/' \
  "$WORK/broken/templates/_helpers.tpl"
"$WORK/render" -name hybridge-check -namespace "$NAMESPACE" -json "$WORK/broken.jsonl" "$WORK/broken" >/dev/null
if java -cp "$(cat "$WORK/validate.cp")" helm/tools/validate/Validate.java "$NAMESPACE" "$WORK/broken.jsonl" >"$WORK/broken.out" 2>&1; then
  die "Validate.java accepted a misspelt field and a version label in selectors"
fi
grep -q "publishNotReadyAddress\` in the JSON string is not defined" "$WORK/broken.out" || die "Validate.java missed the misspelt field"
grep -q "never the version" "$WORK/broken.out" || die "Validate.java missed the version label in a selector"
say "ok: a misspelt Kubernetes field and a version label in a selector are reported"

say "all checks passed in $(( $(date +%s) - started )) s"
