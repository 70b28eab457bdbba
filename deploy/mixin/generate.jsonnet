// Renders the files generated from the mixin, keyed by their path from the
// repository root: scripts/mixin.sh runs
//   jsonnet -S -c -m <root> deploy/mixin/generate.jsonnet
local mixin = import 'mixin.libsonnet';

local header(what) =
  std.join('\n', [if l == '' then '#' else '# ' + l for l in [
    'Generated from deploy/mixin by scripts/mixin.sh, do not edit: change the',
    'jsonnet there and run scripts/mixin.sh.',
    '',
  ] + what]) + '\n';

local yaml(v) = std.manifestYamlDoc(v, indent_array_in_object=true, quote_keys=false) + '\n';

local ruleGroups = mixin.prometheusRules.groups + mixin.prometheusAlerts.groups;

{
  'deploy/prometheus/alerts.yml':
    header([
      'Alert rules for upstash_backup_exporter. Load with rule_files, beside',
      'rules.yml (the RPO alerts read its recording rules); see prometheus.yml.',
      'Needs Prometheus 2.42 or later (keep_firing_for). Unit tests:',
      '  promtool test rules deploy/prometheus/alerts_test.yml deploy/prometheus/rpo_test.yml',
      'Runbooks: deploy/README.md, one section per alert.',
    ]) + yaml(mixin.prometheusAlerts),

  'deploy/prometheus/rules.yml':
    header([
      'Recording rules for upstash_backup_exporter: the recovery point of each',
      'database and its compliance with the recovery-point objective (RPO).',
      'Load with rule_files beside alerts.yml. Unit tests:',
      '  promtool test rules deploy/prometheus/rpo_test.yml',
    ]) + yaml(mixin.prometheusRules),

  'deploy/kubernetes/prometheusrule.yaml':
    header([
      'The recording rules of prometheus/rules.yml and the alerts of',
      'prometheus/alerts.yml for the Prometheus Operator. It may select rules',
      'by a label (kube-prometheus-stack: release=<its release>); add it under',
      'metadata.labels.',
    ]) + yaml({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: {
        name: 'upstash-backup-exporter',
        labels: { 'app.kubernetes.io/name': 'upstash_backup_exporter' },
      },
      spec: { groups: ruleGroups },
    }),

  'deploy/helm/upstash-backup-exporter/files/prometheus-rules.yaml':
    header([
      "The rule groups of the chart's PrometheusRule: the recording groups of",
      'deploy/prometheus/rules.yml, then the alert groups of',
      'deploy/prometheus/alerts.yml.',
    ]) + yaml({ groups: ruleGroups }),

  'deploy/grafana/upstash-backups.json':
    std.manifestJsonEx(mixin.grafanaDashboards['upstash-backups.json'], '  ') + '\n',
}
