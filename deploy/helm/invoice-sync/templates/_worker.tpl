{{- /* The worker's environment, shared by the check-config init container and the worker. */}}
{{- define "invoice-sync.env" -}}
# Static group membership: the pod name is stable across restarts, so a restarted
# worker gets its partitions back without a rebalance.
- name: INVOICE_SYNC_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
# The operator API routes a lookup to the pod that owns the key and fans /pending
# out to every pod, through each pod's stable DNS name on the headless service (the instance id
# above is the pod name).
- name: INVOICE_SYNC_ADVERTISED_URL
  value: "http://$(INVOICE_SYNC_INSTANCE_ID).{{ include "invoice-sync.headlessServiceName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.web.port }}"
- name: INVOICE_SYNC_BROKER
  value: {{ .Values.kafka.broker | quote }}
- name: INVOICE_SYNC_TOPIC_ISSUED
  value: {{ .Values.kafka.topics.issued | quote }}
- name: INVOICE_SYNC_TOPIC_ACKNOWLEDGED
  value: {{ .Values.kafka.topics.acknowledged | quote }}
- name: INVOICE_SYNC_TOPIC_ALERTS
  value: {{ .Values.kafka.topics.alerts | quote }}
- name: INVOICE_SYNC_TOPIC_DLQ
  value: {{ .Values.kafka.topics.dlq | quote }}
- name: INVOICE_SYNC_TOPIC_TICKS
  value: {{ .Values.kafka.topics.ticks | quote }}
- name: INVOICE_SYNC_TOPIC_ACTIONS
  value: {{ .Values.kafka.topics.actions | quote }}
- name: INVOICE_SYNC_PARTITIONS
  value: {{ .Values.kafka.partitions | quote }}
- name: INVOICE_SYNC_REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | quote }}
- name: INVOICE_SYNC_WARN_AFTER
  value: {{ .Values.sla.warnAfter | quote }}
- name: INVOICE_SYNC_CRITICAL_AFTER
  value: {{ .Values.sla.criticalAfter | quote }}
- name: INVOICE_SYNC_DATA_DIR
  value: /var/lib/invoice-sync
- name: INVOICE_SYNC_WEB_PORT
  value: {{ .Values.web.port | quote }}
- name: INVOICE_SYNC_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: INVOICE_SYNC_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- if include "invoice-sync.usesSasl" . }}
- name: INVOICE_SYNC_SASL_MECHANISM
  value: {{ .Values.kafka.sasl.mechanism | quote }}
- name: INVOICE_SYNC_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: INVOICE_SYNC_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end }}
{{- if and (include "invoice-sync.usesTls" .) .Values.kafka.tls.existingSecret }}
- name: INVOICE_SYNC_SSL_CAFILE
  value: {{ printf "%s/%s" .Values.kafka.tls.mountPath .Values.kafka.tls.caKey | quote }}
{{- if .Values.kafka.tls.certKey }}
- name: INVOICE_SYNC_SSL_CERTFILE
  value: {{ printf "%s/%s" .Values.kafka.tls.mountPath .Values.kafka.tls.certKey | quote }}
- name: INVOICE_SYNC_SSL_KEYFILE
  value: {{ printf "%s/%s" .Values.kafka.tls.mountPath .Values.kafka.tls.keyKey | quote }}
{{- end }}
{{- end }}
{{- if .Values.slaRules }}
- name: INVOICE_SYNC_SLA_RULES
  value: /etc/invoice-sync/sla/sla-rules.yaml
{{- end }}
- name: INVOICE_SYNC_API_AUTH
  value: {{ .Values.api.auth | quote }}
{{- if eq .Values.api.auth "tokens" }}
- name: INVOICE_SYNC_API_TOKENS_FILE
  value: {{ printf "%s/%s" (include "invoice-sync.apiTokensDir" .) (include "invoice-sync.apiTokensKey" .) | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}

{{- /* Read-only files both containers read: SLA rules, API tokens, Kafka TLS. */}}
{{- define "invoice-sync.configMounts" -}}
{{- if .Values.slaRules }}
- name: sla-rules
  mountPath: /etc/invoice-sync/sla
  readOnly: true
{{- end }}
{{- if eq .Values.api.auth "tokens" }}
- name: api-tokens
  mountPath: {{ include "invoice-sync.apiTokensDir" . }}
  readOnly: true
{{- end }}
{{- if and (include "invoice-sync.usesTls" .) .Values.kafka.tls.existingSecret }}
- name: kafka-tls
  mountPath: {{ .Values.kafka.tls.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "invoice-sync.apiTokensDir" -}}/etc/invoice-sync/api-tokens{{- end }}

{{- /* The Secret holding the API tokens: the named existing one, or the chart's own. */}}
{{- define "invoice-sync.apiTokensSecret" -}}
{{- .Values.api.tokens.existingSecret | default (printf "%s-api-tokens" (include "invoice-sync.fullname" .)) }}
{{- end }}

{{- /* The key (and file name) of the token file in that Secret. */}}
{{- define "invoice-sync.apiTokensKey" -}}
{{- if .Values.api.tokens.existingSecret }}{{ .Values.api.tokens.key }}{{ else }}tokens{{ end }}
{{- end }}
