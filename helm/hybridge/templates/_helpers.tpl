{{/*
The chart name, or nameOverride.
*/}}
{{- define "hybridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: "<release>-<chart>", or just the release name when it already contains the chart
name, or fullnameOverride. Kubernetes names are at most 63 characters (DNS labels).
*/}}
{{- define "hybridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The name of one of the chart's resources: the full name, shortened as needed so that
"<fullname><suffix>" fits in 63 characters (the suffix is never cut, so two resources with
different suffixes never end up with the same name).
Usage: include "hybridge.componentName" (dict "root" $ "suffix" "-cloud-worker")
*/}}
{{- define "hybridge.componentName" -}}
{{- $base := include "hybridge.fullname" .root | trunc (int (sub 63 (len .suffix))) | trimSuffix "-" }}
{{- printf "%s%s" $base .suffix }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "hybridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of one component: name, instance and component only. Never the version: a
Deployment's or DaemonSet's selector cannot change after creation.
Usage: include "hybridge.selectorLabels" (dict "root" $ "component" "gateway")
*/}}
{{- define "hybridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hybridge.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
All labels of one component's resources. An empty component gives the chart-wide labels.
Usage: include "hybridge.labels" (dict "root" $ "component" "gateway")
*/}}
{{- define "hybridge.labels" -}}
helm.sh/chart: {{ include "hybridge.chart" .root }}
app.kubernetes.io/name: {{ include "hybridge.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
app.kubernetes.io/part-of: hybridge
{{- if .root.Chart.AppVersion }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "hybridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hybridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
An image reference: [global.imageRegistry/]repository:tag[@digest]; the tag defaults to the
chart's appVersion.
Usage: include "hybridge.image" (dict "root" $ "image" .Values.gateway.image)
*/}}
{{- define "hybridge.image" -}}
{{- $ref := .image.repository }}
{{- with .root.Values.global.imageRegistry }}
{{- $ref = printf "%s/%s" (trimSuffix "/" .) $ref }}
{{- end }}
{{- $ref = printf "%s:%s" $ref (toString (default .root.Chart.AppVersion .image.tag)) }}
{{- with .image.digest }}
{{- $ref = printf "%s@%s" $ref . }}
{{- end }}
{{- $ref }}
{{- end }}

{{/*
imagePullSecrets of every pod.
*/}}
{{- define "hybridge.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The programs' container ports: fixed by each program's server.port. The gateway's pools
connect to pod IPs found through the headless Services, so they use these, not Service ports.
*/}}
{{- define "hybridge.gatewayPort" -}}8080{{- end }}
{{- define "hybridge.edgeAgentPort" -}}8081{{- end }}
{{- define "hybridge.cloudWorkerPort" -}}8082{{- end }}

{{/*
Names of the Services the gateway's pools resolve, and the policies ConfigMap and API key Secret.
*/}}
{{- define "hybridge.cloudWorkerHeadlessName" -}}
{{- include "hybridge.componentName" (dict "root" . "suffix" "-cloud-worker-headless") }}
{{- end }}
{{- define "hybridge.edgeAgentHeadlessName" -}}
{{- include "hybridge.componentName" (dict "root" . "suffix" "-edge-agent-headless") }}
{{- end }}
{{- define "hybridge.edgeStateClaimName" -}}
{{- .Values.edgeAgent.state.persistentVolumeClaim.existingClaim | default (include "hybridge.componentName" (dict "root" . "suffix" "-edge-state")) }}
{{- end }}
{{- define "hybridge.policiesName" -}}
{{- include "hybridge.componentName" (dict "root" . "suffix" "-policies") }}
{{- end }}
{{- define "hybridge.apiKeysSecretName" -}}
{{- if .Values.gateway.apiKeys.existingSecret }}
{{- .Values.gateway.apiKeys.existingSecret }}
{{- else }}
{{- include "hybridge.componentName" (dict "root" . "suffix" "-api-keys") }}
{{- end }}
{{- end }}

{{/*
Whether the gateway gets an API key file: "true" or "".
*/}}
{{- define "hybridge.hasApiKeys" -}}
{{- if or .Values.gateway.apiKeys.existingSecret .Values.gateway.apiKeys.keys }}true{{ end }}
{{- end }}

{{/*
Prometheus scrape annotations of a pod, when metrics.podAnnotations.
Usage: include "hybridge.scrapeAnnotations" (dict "root" $ "port" "8080")
*/}}
{{- define "hybridge.scrapeAnnotations" -}}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /actuator/prometheus
{{- end }}
{{- end }}

{{/*
Topology spread constraints, each given the component's selector labels when it has none.
Usage: include "hybridge.topologySpread" (dict "root" $ "component" "gateway" "constraints" .Values.gateway.topologySpreadConstraints)
*/}}
{{- define "hybridge.topologySpread" -}}
{{- $out := list }}
{{- range .constraints }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "hybridge.selectorLabels" (dict "root" $.root "component" $.component) | fromYaml)) }}
{{- end }}
{{- $out = append $out $c }}
{{- end }}
{{- with $out }}
topologySpreadConstraints:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The environment of a serving program (cloud worker or edge agent): hybridge.serving.* from
.config, JVM options, and ORT_DISABLE_TELEMETRY=1 (ONNX Runtime's telemetry is only fully off
when that variable is set before the JVM starts).
Usage: include "hybridge.servingEnv" (dict "config" .Values.cloudWorker.config "executionProvider" "cpu" "javaToolOptions" .Values.cloudWorker.javaToolOptions)
*/}}
{{- define "hybridge.servingEnv" -}}
- name: ORT_DISABLE_TELEMETRY
  value: "1"
- name: JAVA_TOOL_OPTIONS
  value: {{ .javaToolOptions | quote }}
- name: HYBRIDGE_SERVING_MODELREPOSITORY
  value: /models
- name: HYBRIDGE_SERVING_EXECUTIONPROVIDER
  value: {{ .executionProvider | quote }}
- name: HYBRIDGE_SERVING_MAXREQUESTSIZE
  value: {{ .config.maxRequestSize | quote }}
- name: HYBRIDGE_SERVING_MAXJSONDEPTH
  value: {{ .config.maxJsonDepth | int | quote }}
- name: HYBRIDGE_SERVING_STRICTREADINESS
  value: {{ .config.strictReadiness | quote }}
- name: HYBRIDGE_SERVING_THREADS_INTRAOP
  value: {{ .config.threads.intraOp | int | quote }}
- name: HYBRIDGE_SERVING_THREADS_INTEROP
  value: {{ .config.threads.interOp | int | quote }}
- name: HYBRIDGE_SERVING_BATCHING_ENABLED
  value: {{ .config.batching.enabled | quote }}
- name: HYBRIDGE_SERVING_BATCHING_MAXBATCHSIZE
  value: {{ .config.batching.maxBatchSize | int | quote }}
- name: HYBRIDGE_SERVING_BATCHING_MAXQUEUEDELAY
  value: {{ .config.batching.maxQueueDelay | quote }}
- name: HYBRIDGE_SERVING_BATCHING_MAXQUEUESIZE
  value: {{ .config.batching.maxQueueSize | int | quote }}
- name: HYBRIDGE_SERVING_RUNQUEUE_THREADS
  value: {{ .config.runQueue.threads | int | quote }}
- name: HYBRIDGE_SERVING_RUNQUEUE_MAXQUEUESIZE
  value: {{ .config.runQueue.maxQueueSize | int | quote }}
{{- end }}

{{/*
A container's env list: the chart's variables (a YAML list of name/value or name/valueFrom items), minus those
extraEnv sets, then extraEnv's (sorted by name). Keeps every name once: Kubernetes would take
the last of two, but server-side apply and strategic merge patches key env by name.
Usage: include "hybridge.env" (dict "env" (include "hybridge.servingEnv" ...) "extraEnv" .Values.x.extraEnv)
*/}}
{{- define "hybridge.env" -}}
{{- $extra := .extraEnv }}
{{- range fromYamlArray .env }}
{{- if not (hasKey $extra .name) }}
- name: {{ .name }}
  {{- if hasKey . "valueFrom" }}
  valueFrom:
    {{- toYaml .valueFrom | nindent 4 }}
  {{- else }}
  value: {{ .value | toString | quote }}
  {{- end }}
{{- end }}
{{- end }}
{{- range $name, $value := $extra }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/*
The edge agent's link to the gateway (hybridge.edge.*): the gateway's URL, the device (the
node's name), its group, the API key from a Secret, where the agent keeps its state, and its
outbox's bounds.
Usage: include "hybridge.edgeUplinkEnv" $
*/}}
{{- define "hybridge.edgeUplinkEnv" -}}
{{- $uplink := .Values.edgeAgent.uplink }}
{{- $outbox := .Values.edgeAgent.outbox }}
- name: HYBRIDGE_EDGE_STATEDIR
  value: /var/lib/hybridge
- name: HYBRIDGE_EDGE_OUTBOX_ENABLED
  value: {{ $outbox.enabled | quote }}
- name: HYBRIDGE_EDGE_OUTBOX_MAXENTRIES
  value: {{ $outbox.maxEntries | int | quote }}
- name: HYBRIDGE_EDGE_OUTBOX_MAXBYTES
  value: {{ $outbox.maxBytes | quote }}
- name: HYBRIDGE_EDGE_OUTBOX_CALLBACKHOSTS
  value: {{ join "," $outbox.callbackHosts | quote }}
{{- if $uplink.enabled }}
{{- if not $uplink.settingsSecret }}
- name: HYBRIDGE_EDGE_UPLINK_URL
  value: {{ default (printf "http://%s.%s.svc.%s:%d" (include "hybridge.componentName" (dict "root" . "suffix" "-gateway")) .Release.Namespace .Values.clusterDomain (int .Values.gateway.service.port)) $uplink.url | quote }}
{{- end }}
- name: HYBRIDGE_EDGE_DEVICEID
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: HYBRIDGE_EDGE_DEVICEGROUP
  value: {{ $uplink.deviceGroup | quote }}
- name: HYBRIDGE_EDGE_UPLINK_POLICYREFRESH
  value: {{ $uplink.policyRefresh | quote }}
- name: HYBRIDGE_EDGE_UPLINK_TIMEOUT
  value: {{ $uplink.timeout | quote }}
{{- with $uplink.apiKeySecret }}
- name: HYBRIDGE_EDGE_UPLINK_APIKEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $uplink.apiKeySecretKey }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The environment of one of the gateway's pools (hybridge.gateway.<tier>.*).
Usage: include "hybridge.poolEnv" (dict "root" $ "tier" "CLOUD" "pool" .Values.gateway.config.cloud "enabled" .Values.cloudWorker.enabled "headless" (include "hybridge.cloudWorkerHeadlessName" $) "port" (include "hybridge.cloudWorkerPort" $))
*/}}
{{- define "hybridge.poolEnv" -}}
{{- $prefix := printf "HYBRIDGE_GATEWAY_%s_" .tier }}
{{- if .pool.addresses }}
- name: {{ $prefix }}ADDRESSES
  value: {{ join "," .pool.addresses | quote }}
{{- else if or .pool.dnsName .enabled }}
- name: {{ $prefix }}DNSNAME
  value: {{ default (printf "%s.%s.svc.%s" .headless .root.Release.Namespace .root.Values.clusterDomain) .pool.dnsName | quote }}
- name: {{ $prefix }}PORT
  value: {{ ternary .port (int .pool.port) (eq (int .pool.port) 0) | toString | quote }}
- name: {{ $prefix }}DNSREFRESH
  value: {{ .pool.dnsRefresh | quote }}
{{- end }}
- name: {{ $prefix }}CONNECTTIMEOUT
  value: {{ .pool.connectTimeout | quote }}
- name: {{ $prefix }}TIMEOUT
  value: {{ .pool.timeout | quote }}
- name: {{ $prefix }}MAXCONCURRENT
  value: {{ .pool.maxConcurrent | int | quote }}
- name: {{ $prefix }}RETRY_MAXATTEMPTS
  value: {{ .pool.retry.maxAttempts | int | quote }}
- name: {{ $prefix }}RETRY_BACKOFF
  value: {{ .pool.retry.backoff | quote }}
- name: {{ $prefix }}BREAKER_FAILURERATETHRESHOLD
  value: {{ .pool.breaker.failureRateThreshold | quote }}
- name: {{ $prefix }}BREAKER_SLOWCALLDURATION
  value: {{ .pool.breaker.slowCallDuration | quote }}
- name: {{ $prefix }}BREAKER_SLOWCALLRATETHRESHOLD
  value: {{ .pool.breaker.slowCallRateThreshold | quote }}
- name: {{ $prefix }}BREAKER_SLIDINGWINDOWSIZE
  value: {{ .pool.breaker.slidingWindowSize | int | quote }}
- name: {{ $prefix }}BREAKER_MINIMUMNUMBEROFCALLS
  value: {{ .pool.breaker.minimumNumberOfCalls | int | quote }}
- name: {{ $prefix }}BREAKER_WAITINOPENSTATE
  value: {{ .pool.breaker.waitInOpenState | quote }}
- name: {{ $prefix }}BREAKER_PERMITTEDCALLSINHALFOPENSTATE
  value: {{ .pool.breaker.permittedCallsInHalfOpenState | int | quote }}
{{- end }}

{{/*
The models volume and the init container that fills it, for one serving program.
Usage: include "hybridge.modelsVolume" (dict "root" $ "folder" .Values.models.folders.cloudWorker)
       include "hybridge.modelsInitContainer" (dict "root" $ "folder" .Values.models.folders.cloudWorker)
*/}}
{{- define "hybridge.modelsVolume" -}}
- name: models
{{- if .root.Values.models.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .root.Values.models.existingClaim }}
    readOnly: true
{{- else }}
  emptyDir:
    sizeLimit: {{ .root.Values.models.sizeLimit }}
{{- end }}
{{- end }}

{{- define "hybridge.modelsInitContainer" -}}
{{- if not .root.Values.models.existingClaim }}
initContainers:
  - name: copy-models
    image: {{ include "hybridge.image" (dict "root" .root "image" .root.Values.models.image) }}
    imagePullPolicy: {{ .root.Values.models.image.pullPolicy }}
    # cp without a shell: the models image needs only cp (busybox has it).
    command:
      - cp
      - -R
      - {{ printf "%s/%s/." (trimSuffix "/" .root.Values.models.image.path) .folder | quote }}
      - /models/
    securityContext:
      {{- toYaml .root.Values.containerSecurityContext | nindent 6 }}
    resources:
      {{- toYaml .root.Values.models.copyResources | nindent 6 }}
    volumeMounts:
      - name: models
        mountPath: /models
{{- end }}
{{- end }}

{{/*
The models volume mount of a serving program (the claim's sub-folder when a claim is used).
*/}}
{{- define "hybridge.modelsMount" -}}
- name: models
  mountPath: /models
  readOnly: true
{{- if .root.Values.models.existingClaim }}
  subPath: {{ .folder }}
{{- end }}
{{- end }}

{{/*
Checks across values that the schema cannot express; fails the render with a message that
names the values.
*/}}
{{- define "hybridge.validate" -}}
{{- if and .Values.gateway.apiKeys.keys .Values.gateway.apiKeys.existingSecret }}
{{- fail "gateway.apiKeys: set either keys (the chart creates the Secret) or existingSecret, not both" }}
{{- end }}
{{- if and (or .Values.cloudWorker.enabled .Values.edgeAgent.enabled) (not .Values.models.existingClaim) (not .Values.models.image.repository) }}
{{- fail "models: the workers need models: set models.image.repository (an image with the models) or models.existingClaim (a PersistentVolumeClaim)" }}
{{- end }}
{{- if and (eq .Values.gateway.config.budgetStore "redis") (not .Values.gateway.config.budgetRedis.host) }}
{{- fail "gateway.config.budgetRedis.host: required with budgetStore redis (the Redis server that holds shared budgets)" }}
{{- end }}
{{- if and .Values.gateway.autoscaling.enabled (gt (int .Values.gateway.autoscaling.minReplicas) (int .Values.gateway.autoscaling.maxReplicas)) }}
{{- fail (printf "gateway.autoscaling: minReplicas (%v) must not be more than maxReplicas (%v)" .Values.gateway.autoscaling.minReplicas .Values.gateway.autoscaling.maxReplicas) }}
{{- end }}
{{- end }}

{{/*
The gateway's environment (hybridge.gateway.*) before extraEnv.
*/}}
{{- define "hybridge.gatewayEnv" -}}
- name: JAVA_TOOL_OPTIONS
  value: {{ .Values.gateway.javaToolOptions | quote }}
- name: HYBRIDGE_GATEWAY_POLICYFOLDER
  value: /etc/hybridge/policies
- name: HYBRIDGE_GATEWAY_POLICYRELOADINTERVAL
  value: {{ .Values.gateway.config.policyReloadInterval | quote }}
- name: HYBRIDGE_GATEWAY_MAXREQUESTSIZE
  value: {{ .Values.gateway.config.maxRequestSize | quote }}
- name: HYBRIDGE_GATEWAY_MAXRESPONSESIZE
  value: {{ .Values.gateway.config.maxResponseSize | quote }}
- name: HYBRIDGE_GATEWAY_MAXBUFFEREDREQUESTBYTES
  value: {{ .Values.gateway.config.maxBufferedRequestBytes | quote }}
- name: HYBRIDGE_GATEWAY_ADMISSION_ENABLED
  value: {{ .Values.gateway.config.admission.enabled | quote }}
- name: HYBRIDGE_GATEWAY_ADMISSION_INITIALLIMIT
  value: {{ .Values.gateway.config.admission.initialLimit | quote }}
- name: HYBRIDGE_GATEWAY_ADMISSION_MINLIMIT
  value: {{ .Values.gateway.config.admission.minLimit | quote }}
- name: HYBRIDGE_GATEWAY_ADMISSION_MAXLIMIT
  value: {{ .Values.gateway.config.admission.maxLimit | quote }}
- name: HYBRIDGE_GATEWAY_ADMISSION_ESCALATIONSHARE
  value: {{ .Values.gateway.config.admission.escalationShare | quote }}
- name: HYBRIDGE_GATEWAY_ADMISSION_RETRYAFTER
  value: {{ .Values.gateway.config.admission.retryAfter | quote }}
- name: HYBRIDGE_GATEWAY_APIKEYHEADER
  value: {{ .Values.gateway.config.apiKeyHeader | quote }}
- name: HYBRIDGE_GATEWAY_ANONYMOUSTENANT
  value: {{ .Values.gateway.config.anonymousTenant | quote }}
- name: HYBRIDGE_GATEWAY_BUDGETSTORE
  value: {{ .Values.gateway.config.budgetStore | quote }}
- name: HYBRIDGE_GATEWAY_ESCALATIONS_RECORDTTL
  value: {{ .Values.gateway.config.escalations.recordTtl | quote }}
- name: HYBRIDGE_GATEWAY_ESCALATIONS_MAXKEYS
  value: {{ .Values.gateway.config.escalations.maxKeys | quote }}
- name: HYBRIDGE_GATEWAY_ESCALATIONS_RUNATLEAST
  value: {{ .Values.gateway.config.escalations.runAtLeast | quote }}
{{- if eq .Values.gateway.config.budgetStore "redis" }}
- name: HYBRIDGE_GATEWAY_BUDGETREFRESH
  value: {{ .Values.gateway.config.budgetRefresh | quote }}
- name: SPRING_DATA_REDIS_HOST
  value: {{ .Values.gateway.config.budgetRedis.host | quote }}
- name: SPRING_DATA_REDIS_PORT
  value: {{ .Values.gateway.config.budgetRedis.port | quote }}
{{- end }}
{{- if include "hybridge.hasApiKeys" . }}
{{- /* Not "optional:": keys that are configured but not found must stop the start, not turn
every request into a 401. */}}
- name: SPRING_CONFIG_IMPORT
  value: file:/etc/hybridge/secrets/api-keys.yaml
{{- end }}
{{ include "hybridge.poolEnv" (dict "root" . "tier" "EDGE" "pool" .Values.gateway.config.edge "enabled" .Values.edgeAgent.enabled "headless" (include "hybridge.edgeAgentHeadlessName" .) "port" (include "hybridge.edgeAgentPort" .)) | trim }}
{{ include "hybridge.poolEnv" (dict "root" . "tier" "CLOUD" "pool" .Values.gateway.config.cloud "enabled" .Values.cloudWorker.enabled "headless" (include "hybridge.cloudWorkerHeadlessName" .) "port" (include "hybridge.cloudWorkerPort" .)) | trim }}
{{- end }}
