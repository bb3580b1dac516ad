{{- /*
The recording and alerting rules, the one source of both the chart's PrometheusRule and
deploy/prometheus/rules/invoice-sync.rules.yml (scripts/render-rules.py renders this template
with deploy/prometheus/rules.values.yaml; a unit test fails when the file has drifted).

Every aggregation keeps `namespace` and `job`: a namespaced AlertmanagerConfig matches on
namespace, and two releases (job = the release's Service name) never add up into one alert.
Every selector carries $sel: job="<Service name>" and, with prometheusRule.matchNamespace,
namespace="<release namespace>", so one release's rules read only its own series.

Prometheus' own templates ({{ $labels.x }}, {{ $value }}) are written as Go raw strings,
{{`{{ $value }}`}}, so that Helm prints them verbatim. Keep each alert's `for:` on its own line as
`for: <N>m` (tests/e2e shortens them with a line regex).
*/ -}}
{{- define "invoice-sync.rules.groups" -}}
{{- $v := .Values.prometheusRule }}
{{- $a := $v.alerts }}
{{- $matchers := list (printf "job=%q" (include "invoice-sync.fullname" .)) }}
{{- if $v.matchNamespace }}
{{- $matchers = prepend $matchers (printf "namespace=%q" .Release.Namespace) }}
{{- end }}
{{- $sel := join ", " $matchers }}
{{- $runbook := $v.runbookBaseUrl }}
{{- $extra := $v.alertLabels }}
groups:
  - name: invoice-sync.recording
    rules:
      # Workers each export their own partitions' counts; the sum is the deployment's view.
      - record: region_code_age_band:invoice_sync_pending_invoices:sum
        expr: sum by (namespace, job, region_code, age_band) (invoice_sync_pending_invoices{ {{- $sel -}} })

      # issued_at -> accepted acknowledgement, over 15 minutes of acks.
      {{- range $q := list "50" "95" "99" }}
      - record: region_code:invoice_sync_latency_seconds:p{{ $q }}_rate15m
        expr: >-
          histogram_quantile(0.{{ $q }},
            sum by (namespace, job, region_code, le) (rate(invoice_sync_latency_seconds_bucket{ {{- $sel -}} }[15m])))
      {{- end }}

      - record: job:invoice_sync_rejections:rate15m
        expr: sum by (namespace, job) (rate(invoice_sync_rejections_total{ {{- $sel -}} }[15m]))
      # Valid records read from the acknowledgement topic (accepted, rejected, duplicate); the
      # topic label is the topic's name (kafka.topics.acknowledged).
      - record: job:invoice_sync_acknowledgements:rate15m
        expr: >-
          sum by (namespace, job) (rate(invoice_sync_events_total{ {{- $sel }}, topic={{ $.Values.kafka.topics.acknowledged | quote }}, outcome="valid"}[15m]))
      - record: job:invoice_sync_rejections_per_acknowledgement:ratio_rate15m
        expr: job:invoice_sync_rejections:rate15m{ {{- $sel -}} } / job:invoice_sync_acknowledgements:rate15m{ {{- $sel -}} }

      # invoice_sync_degraded{scope, value}: turn the value into a region_code /
      # source_system label so Alertmanager can group and inhibit by region.
      - record: region_code:invoice_sync_degraded:max
        expr: >-
          max by (namespace, job, region_code) (label_replace(invoice_sync_degraded{ {{- $sel }}, scope="region_code"},
            "region_code", "$1", "value", "(.+)"))
      - record: source_system:invoice_sync_degraded:max
        expr: >-
          max by (namespace, job, source_system) (label_replace(invoice_sync_degraded{ {{- $sel }}, scope="source_system"},
            "source_system", "$1", "value", "(.+)"))

  - name: invoice-sync.alerts
    rules:
      {{- with $a.unsyncedPastWarning }}
      - alert: InvoiceSyncUnsyncedPastWarning
        expr: sum by (namespace, job, region_code) (region_code_age_band:invoice_sync_pending_invoices:sum{ {{- $sel }}, age_band="past_warning"}) > 0
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
          condition: unsynced
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "{{`{{ $value }}`}} invoice(s) in region {{`{{ $labels.region_code }}`}} past the warning deadline without an acknowledgement"
          description: >-
            For {{ .for }}, region {{`{{ $labels.region_code }}`}} has had {{`{{ $value }}`}} issued invoice(s)
            without an accepted acknowledgement and older than the region's warning threshold
            (age_band="past_warning"; thresholds are per region/source in the worker's settings).
            Threshold: any such invoice for {{ .for }} (absorbs rebalances and scrape gaps). Per-invoice
            details are on the invoice.sync.alerts topic and `GET /pending?region_code=...`.
            Inhibited by InvoiceSyncUnsyncedPastCritical and InvoiceSyncRegionDegraded for the same region.
          runbook_url: {{ printf "%s#invoicesyncunsyncedpastwarning" $runbook }}
      {{- end }}

      {{- with $a.unsyncedPastCritical }}

      - alert: InvoiceSyncUnsyncedPastCritical
        expr: sum by (namespace, job, region_code) (region_code_age_band:invoice_sync_pending_invoices:sum{ {{- $sel }}, age_band="past_critical"}) > 0
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
          condition: unsynced
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "{{`{{ $value }}`}} invoice(s) in region {{`{{ $labels.region_code }}`}} past the critical deadline without an acknowledgement"
          description: >-
            For {{ .for }}, region {{`{{ $labels.region_code }}`}} has had {{`{{ $value }}`}} issued invoice(s)
            without an accepted acknowledgement and older than the region's critical threshold
            (age_band="past_critical"). Threshold: any such invoice for {{ .for }}; each one risks being
            missing at filing time. Per-invoice details: `GET /pending?region_code=...`.
          runbook_url: {{ printf "%s#invoicesyncunsyncedpastcritical" $runbook }}
      {{- end }}

      {{- with $a.regionDegraded }}

      - alert: InvoiceSyncRegionDegraded
        expr: region_code:invoice_sync_degraded:max{ {{- $sel -}} } == 1
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
          condition: degraded
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "Acknowledgements for region {{`{{ $labels.region_code }}`}} are degraded"
          description: >-
            For {{ .for }} the workers have flagged region {{`{{ $labels.region_code }}`}} as degraded
            (invoice_sync_degraded{scope="region_code"} == 1): acknowledgements stopped or fell
            behind for the region as a whole, typically a tax-platform upgrade, database
            maintenance or network outage rather than individual invoices. Warning-level
            unsynced alerts for the region are inhibited while this fires.
          runbook_url: {{ printf "%s#invoicesyncregiondegraded" $runbook }}
      {{- end }}

      {{- with $a.sourceSystemDegraded }}

      - alert: InvoiceSyncSourceSystemDegraded
        expr: source_system:invoice_sync_degraded:max{ {{- $sel -}} } == 1
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
          condition: degraded
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "Acknowledgements for source system {{`{{ $labels.source_system }}`}} are degraded"
          description: >-
            For {{ .for }} the workers have flagged source system {{`{{ $labels.source_system }}`}} as
            degraded (invoice_sync_degraded{scope="source_system"} == 1): invoices from this
            billing/ERP system are not being acknowledged as a whole, typically the system stopped
            uploading (network, outdated client software, tax device unplugged).
          runbook_url: {{ printf "%s#invoicesyncsourcesystemdegraded" $runbook }}
      {{- end }}

      {{- with $a.rejectionsRising }}

      - alert: InvoiceSyncRejectionsRising
        expr: >-
          job:invoice_sync_rejections_per_acknowledgement:ratio_rate15m{ {{- $sel -}} } > {{ .share }}
          and job:invoice_sync_rejections:rate15m{ {{- $sel -}} } > {{ .perSecond }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
          condition: rejections
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "{{`{{ $value | humanizePercentage }}`}} of acknowledgements are rejections"
          description: >-
            Over the last 15 minutes {{`{{ $value | humanizePercentage }}`}} of acknowledgements were
            rejections, for {{ .for }}. Thresholds: a rejection share above {{ .share }} AND more than
            {{ .perSecond }} rejections/s, so a handful of rejections on a quiet night does not
            fire. Each rejected invoice is also alerted individually on invoice.sync.alerts; this
            alert means a systematic cause (a field rule change, outdated client software, quota).
          runbook_url: {{ printf "%s#invoicesyncrejectionsrising" $runbook }}
      {{- end }}

      {{- with $a.latencyP95High }}

      - alert: InvoiceSyncLatencyP95High
        expr: region_code:invoice_sync_latency_seconds:p95_rate15m{ {{- $sel -}} } > {{ .seconds | int64 }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
          condition: latency
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "p95 issue-to-acknowledgement latency in region {{`{{ $labels.region_code }}`}} is {{`{{ $value | humanizeDuration }}`}}"
          description: >-
            The 95th percentile of the time from issued_at to the accepted acknowledgement in
            region {{`{{ $labels.region_code }}`}} has been above {{ .seconds | int64 }} s (choose a histogram
            bucket bound) for {{ .for }}, over a 15-minute window. Direct-upload schemes acknowledge in
            minutes, so this is the early sign of a slow platform or overload before invoices pass
            their deadlines. Schemes with long deadlines (e.g. 72 h stamping) need a higher threshold.
          runbook_url: {{ printf "%s#invoicesynclatencyp95high" $runbook }}
      {{- end }}

      {{- with $a.ackWatermarkStale }}

      - alert: InvoiceSyncAckWatermarkStale
        # A watermark of 0 means the worker owns no acknowledgement partitions: not stale.
        expr: (time() - (invoice_sync_ack_watermark_timestamp_seconds{ {{- $sel -}} } > 0)) > {{ .seconds | int64 }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
          condition: ack_feed
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "Acknowledgement watermark on {{`{{ $labels.instance }}`}} is {{`{{ $value | humanizeDuration }}`}} old"
          description: >-
            The acknowledgement watermark of worker {{`{{ $labels.instance }}`}} (min over its
            acknowledgement partitions) has been more than {{ .seconds | int64 }} s behind wall-clock
            time for {{ .for }}: the acknowledgement feed stopped or the worker is stuck. Unsynced
            alerts are gated on this watermark, so while it is stale NO unsynced alerts fire for
            the invoices it covers: this is critical.
          runbook_url: {{ printf "%s#invoicesyncackwatermarkstale" $runbook }}
      {{- end }}

      {{- with $a.consumerLagHigh }}

      - alert: InvoiceSyncConsumerLagHigh
        expr: sum by (namespace, job, topic) (invoice_sync_consumer_lag_messages{ {{- $sel -}} }) > {{ .messages | int64 }}
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
          condition: consumer_lag
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "Consumer lag on {{`{{ $labels.topic }}`}} is {{`{{ $value }}`}} messages"
          description: >-
            The workers have been more than {{ .messages | int64 }} messages behind on topic {{`{{ $labels.topic }}`}}
            (summed over workers) for {{ .for }}: they cannot keep up (peak load, slow state store,
            too few workers for the partitions) or one is stuck. Alerts are delayed, not lost.
          runbook_url: {{ printf "%s#invoicesyncconsumerlaghigh" $runbook }}
      {{- end }}

      {{- with $a.deadLettersIncreasing }}

      - alert: InvoiceSyncDeadLettersIncreasing
        expr: sum by (namespace, job, topic, reason) (increase(invoice_sync_dead_letters_total{ {{- $sel -}} }[{{ .window }}])) > 0
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
          condition: dead_letters
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "{{`{{ $value | printf \"%.0f\" }}`}} record(s) from {{`{{ $labels.topic }}`}} dead-lettered ({{`{{ $labels.reason }}`}})"
          description: >-
            In the last {{ .window }} records from topic {{`{{ $labels.topic }}`}} were sent to the dead
            letter topic ({{ $.Values.kafka.topics.dlq }}) with reason {{`{{ $labels.reason }}`}}. Threshold: any.
            A dead-lettered invoice or acknowledgement is not correlated, so an invoice may be
            missed or falsely alerted until the record is fixed and replayed (`invoice-sync dlq replay`).
          runbook_url: {{ printf "%s#invoicesyncdeadlettersincreasing" $runbook }}
      {{- end }}

      {{- with $a.pipelineDown }}

      - alert: InvoiceSyncPipelineDown
        # absent() keeps the selector's equality matchers as labels: namespace and job.
        expr: up{ {{- $sel -}} } == 0 or absent(up{ {{- $sel -}} })
        for: {{ .for }}
        labels:
          severity: {{ .severity }}
          condition: pipeline
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          summary: "{{`{{ with $labels.instance }}invoice-sync worker {{ . }} is down{{ else }}no invoice-sync worker is being scraped{{ end }}`}}"
          description: >-
            {{`{{ with $labels.instance }}`}}For {{ .for }} Prometheus could not scrape invoice-sync
            worker {{`{{ . }}`}} (up == 0).{{`{{ else }}`}}For {{ .for }} Prometheus has had no invoice-sync
            scrape target at all (absent(up)).{{`{{ end }}`}} A down worker's partitions move to the
            other workers only after the consumer group rebalances; while no worker runs, no
            invoice is checked and no alert about an invoice is raised.
          runbook_url: {{ printf "%s#invoicesyncpipelinedown" $runbook }}
      {{- end }}
{{- end }}
