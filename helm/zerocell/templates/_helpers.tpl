{{/* Names, labels and the values derived from several settings. */}}

{{- define "zerocell.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-zerocell, or the release name alone when it already contains the chart name. */}}
{{- define "zerocell.fullname" -}}
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

{{- define "zerocell.headlessName" -}}
{{- printf "%s-headless" (include "zerocell.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "zerocell.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zerocell.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "zerocell.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "zerocell.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "zerocell.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "zerocell.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "zerocell.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
A Kubernetes CPU quantity ("2", "1.5", "500m") as whole cores, rounded up; 0 when empty.
*/}}
{{- define "zerocell.cpuCores" -}}
{{- $q := toString . }}
{{- if not . }}0
{{- else if hasSuffix "m" $q }}{{ div (add (trimSuffix "m" $q | atoi) 999) 1000 }}
{{- else }}{{ ceil (float64 $q) | int }}
{{- end }}
{{- end }}

{{/*
A Kubernetes memory quantity ("1Gi", "512Mi", "1G", "1000000") in bytes; 0 when empty.
*/}}
{{- define "zerocell.bytes" -}}
{{- $q := toString . }}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "K" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 }}
{{- $bytes := 0 }}
{{- if not . }}
{{- else if regexMatch "^[0-9]+$" $q }}{{ $bytes = int64 $q }}
{{- else if regexMatch "^[0-9]+(Ki|Mi|Gi|Ti|k|K|M|G|T)$" $q }}
{{- $unit := regexFind "(Ki|Mi|Gi|Ti|k|K|M|G|T)$" $q }}
{{- $bytes = mul (int64 (trimSuffix $unit $q)) (get $units $unit) }}
{{- else }}
{{- fail (printf "resources.limits.memory: %q is not a quantity this chart can check (use a whole number with Ki, Mi, Gi, Ti, k, M, G, T or none)" $q) }}
{{- end }}
{{- $bytes }}
{{- end }}

{{/* --max_concurrency: the value given, else the CPU limit rounded up, else 1. */}}
{{- define "zerocell.concurrency" -}}
{{- $limits := .Values.resources.limits | default dict }}
{{- if gt (int .Values.server.maxConcurrency) 0 }}{{ .Values.server.maxConcurrency }}
{{- else }}{{ max 1 (include "zerocell.cpuCores" (get $limits "cpu") | int) }}
{{- end }}
{{- end }}

{{/* Checks of values that cannot work together; renders nothing when they are fine. */}}
{{- define "zerocell.validate" -}}
{{- $limits := .Values.resources.limits | default dict }}
{{- $memory := include "zerocell.bytes" (get $limits "memory") | int64 }}
{{- $concurrency := include "zerocell.concurrency" . | int64 }}
{{- $needed := add (mul $concurrency (int64 .Values.server.maxMemoryBytes)) (int64 .Values.server.serverMemoryBytes) }}
{{- if and (gt $memory 0) (lt $memory $needed) }}
{{- fail (printf "resources.limits.memory (%d bytes) cannot hold %d concurrent guests of server.maxMemoryBytes (%d) plus server.serverMemoryBytes (%d) = %d bytes: guests share the pod's memory cgroup, so the kernel would OOM-kill zerocelld. Raise the limit, or lower server.maxConcurrency or server.maxMemoryBytes." $memory $concurrency (int64 .Values.server.maxMemoryBytes) (int64 .Values.server.serverMemoryBytes) $needed) }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) }}
{{- fail "tls.enabled: needs tls.secretName (a Secret with tls.crt and tls.key)" }}
{{- end }}
{{- if and .Values.tls.clientAuth (not .Values.tls.enabled) }}
{{- fail "tls.clientAuth: needs tls.enabled" }}
{{- end }}
{{- if and (eq .Values.storage.type "persistentVolumeClaim") (not .Values.storage.existingClaim) }}
{{- fail "storage.type persistentVolumeClaim: needs storage.existingClaim" }}
{{- end }}
{{- if and (eq .Values.securityContext.seccompProfile.type "Localhost") (not .Values.securityContext.seccompProfile.localhostProfile) }}
{{- fail "securityContext.seccompProfile.type Localhost: needs securityContext.seccompProfile.localhostProfile" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "invalid" .Values.podDisruptionBudget.minAvailable)) (not (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable, not both (set the other to null)" }}
{{- end }}
{{- end }}

{{/* zerocelld's command-line flags (after the image's ENTRYPOINT). */}}
{{- define "zerocell.args" -}}
- --listen=0.0.0.0:{{ .Values.server.grpcPort }}
{{- if .Values.metrics.enabled }}
- --metrics_listen=0.0.0.0:{{ .Values.server.metricsPort }}
{{- else }}
- --metrics_listen=
{{- end }}
- --max_concurrency={{ include "zerocell.concurrency" . }}
- --max_queue={{ .Values.server.maxQueue }}
- --max_queue_wait_ms={{ .Values.server.maxQueueWaitMs }}
- --max_timeout_ms={{ .Values.server.maxTimeoutMs }}
- --max_memory_bytes={{ int64 .Values.server.maxMemoryBytes }}
- --grace_period_ms={{ mul .Values.server.gracePeriodSeconds 1000 }}
- --instruction_policy={{ .Values.server.instructionPolicy }}
- --pool={{ .Values.server.warmPool.enabled }}
- --pool_max_total={{ .Values.server.warmPool.maxTotal }}
{{- if .Values.server.persistImages }}
- --image_dir=/var/lib/zerocell/images
{{- end }}
{{- if ne .Values.server.imageNamespace "none" }}
- --image_namespace={{ .Values.server.imageNamespace }}
{{- end }}
{{- if .Values.tls.enabled }}
- --tls_cert=/etc/zerocell/tls/tls.crt
- --tls_key=/etc/zerocell/tls/tls.key
{{- if .Values.tls.clientAuth }}
- --tls_client_ca=/etc/zerocell/tls/ca.crt
{{- end }}
{{- end }}
{{- range .Values.server.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/* A probe: gRPC health (plaintext) or TCP (TLS). $ is the root, .probe the timings. */}}
{{- define "zerocell.probe" -}}
{{- $root := .root }}
{{- if $root.Values.tls.enabled }}
tcpSocket:
  port: grpc
{{- else }}
grpc:
  port: {{ $root.Values.server.grpcPort }}
  service: {{ .service | quote }}
{{- end }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end }}

{{/* The container security context: every privilege dropped (Zerocell needs none). */}}
{{- define "zerocell.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: {{ .Values.securityContext.seccompProfile.type }}
  {{- if eq .Values.securityContext.seccompProfile.type "Localhost" }}
  localhostProfile: {{ .Values.securityContext.seccompProfile.localhostProfile | quote }}
  {{- end }}
{{- end }}

{{- define "zerocell.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
seccompProfile:
  type: {{ .Values.securityContext.seccompProfile.type }}
  {{- if eq .Values.securityContext.seccompProfile.type "Localhost" }}
  localhostProfile: {{ .Values.securityContext.seccompProfile.localhostProfile | quote }}
  {{- end }}
{{- end }}
