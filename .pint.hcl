# pint (github.com/cloudflare/pint) configuration: offline checks of the
# generated rule files. scripts/test.sh (step pint) runs
#   pint --offline --config .pint.hcl lint --fail-on=warning \
#     deploy/prometheus/rules.yml deploy/prometheus/alerts.yml \
#     deploy/kubernetes/prometheusrule.yaml \
#     deploy/helm/upstash-backup-exporter/files/prometheus-rules.yaml
# There is no prometheus block: pint runs only the checks that need no
# Prometheus server.

parser {
  # The PrometheusRule holds its groups under spec: parse it relaxed, finding
  # rules anywhere in the document. The other files are plain rule files.
  relaxed = [".*prometheusrule\\.yaml"]
}

# What deploy/rules_test.go also checks: every alert says how bad it is,
# what happened, and where its runbook is.
rule {
  match {
    kind = "alerting"
  }

  label "severity" {
    comment  = "critical pages, warning opens a ticket (deploy/alertmanager/alertmanager.yml)."
    severity = "bug"
    required = true
    value    = "critical|warning"
  }

  annotation "summary" {
    severity = "bug"
    required = true
  }

  annotation "description" {
    severity = "bug"
    required = true
  }

  annotation "runbook_url" {
    comment  = "Runbooks are the sections of deploy/README.md, one per alert."
    severity = "bug"
    required = true
    value    = "https://github\\.com/upstash-backup-exporter/upstash_backup_exporter/blob/main/deploy/README\\.md#[a-z]+"
  }
}

# These alerts compare aggregations of one database's series made with the
# same "without (instance, pod)": both sides keep the same labels by
# construction. That is the point of the rules: a restarted pod, a new
# instance label or a pair of replicas (HA, deploy/README.md) must not end
# or double the alert, and aggregating "by" a fixed list would drop the
# target labels (namespace, cluster) that routing uses. promtool unit tests
# (deploy/prometheus/*_test.yml) cover each with two replicas.
rule {
  match {
    name = "UpstashBackupNoRecentCompleted|UpstashBackupNeverCompleted|UpstashBackupLatestFailed|UpstashBackupEmptyOrShrunk|UpstashBackupRestoreWindowNotCovered|UpstashBackupChainGap"
  }
  disable = ["promql/fragile"]
}
