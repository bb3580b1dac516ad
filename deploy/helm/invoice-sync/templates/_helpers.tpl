{{/* Chart name, overridable with nameOverride. */}}
{{- define "invoice-sync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects. Kept to 52 characters: StatefulSet pods add "-N" and the
controller-revision-hash label adds 11 more to a name that must stay within 63.
*/}}
{{- define "invoice-sync.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "invoice-sync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that never change over the release's life: used in selectors. */}}
{{- define "invoice-sync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "invoice-sync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The recommended app.kubernetes.io/* labels, on every object. */}}
{{- define "invoice-sync.labels" -}}
helm.sh/chart: {{ include "invoice-sync.chart" . }}
{{ include "invoice-sync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/component: worker
app.kubernetes.io/part-of: invoice-sync
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "invoice-sync.headlessServiceName" -}}
{{- printf "%s-headless" (include "invoice-sync.fullname" .) }}
{{- end }}

{{- define "invoice-sync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "invoice-sync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "invoice-sync.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* True (non-empty) when the Kafka security protocol uses SASL / TLS. */}}
{{- define "invoice-sync.usesSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end }}
{{- end }}
{{- define "invoice-sync.usesTls" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}true{{ end }}
{{- end }}
