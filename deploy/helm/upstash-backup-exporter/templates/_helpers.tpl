{{/*
The chart name, or nameOverride.
*/}}
{{- define "upstash-backup-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the objects: the release name, followed by the chart name
unless the release name already contains it. Kubernetes names are at most
63 characters.
*/}}
{{- define "upstash-backup-exporter.fullname" -}}
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
The namespace of every object.
*/}}
{{- define "upstash-backup-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "upstash-backup-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "upstash-backup-exporter.labels" -}}
helm.sh/chart: {{ include "upstash-backup-exporter.chart" . }}
{{ include "upstash-backup-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: upstash-backup-exporter
{{- end }}

{{/*
Labels that select the pod.
*/}}
{{- define "upstash-backup-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "upstash-backup-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount of the pod.
*/}}
{{- define "upstash-backup-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "upstash-backup-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image: by digest when one is given, else by tag, which defaults to
v<appVersion>. A moving tag would make the release depend on when the pod
was scheduled, so latest is refused.
*/}}
{{- define "upstash-backup-exporter.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- $tag := default (printf "v%s" .Chart.AppVersion) .Values.image.tag | toString }}
{{- if eq $tag "latest" }}
{{- fail "image.tag: latest is refused; pin a version (the default is v<appVersion>) or set image.digest" }}
{{- end }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The Secret that holds the API keys.
*/}}
{{- define "upstash-backup-exporter.secretName" -}}
{{- default (include "upstash-backup-exporter.fullname" .) .Values.existingSecret.name }}
{{- end }}

{{/*
The number of replicas, checked: 1 unless sharding.enabled, since every
replica of the Deployment would read every database.
*/}}
{{- define "upstash-backup-exporter.replicas" -}}
{{- $n := int .Values.replicas }}
{{- if lt $n 1 }}
{{- fail (printf "replicas: %v: want at least 1" .Values.replicas) }}
{{- end }}
{{- if and (gt $n 1) (not .Values.sharding.enabled) }}
{{- fail (printf "replicas: %d needs sharding.enabled: without it every replica reads every database, which multiplies the API calls" $n) }}
{{- end }}
{{- $n }}
{{- end }}
