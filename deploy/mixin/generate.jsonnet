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

// Rule groups as YAML with the keys of each rule in the order people write
// them (std.manifestYamlDoc sorts keys), indented by `indent` spaces.
local ruleKeys = ['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'];
local indentLines(text, first, rest) =
  local lines = std.split(text, '\n');
  std.join('\n', [first + lines[0]] + [if l == '' then '' else rest + l for l in lines[1:]]);
local ruleYaml(r, indent) =
  assert std.setDiff(std.objectFields(r), std.set(ruleKeys)) == [] : 'unexpected rule keys in ' + std.toString(std.objectFields(r));
  local pad = std.repeat(' ', indent);
  indentLines(
    std.join('\n', [yaml({ [k]: r[k] })[0:-1] for k in ruleKeys if std.objectHas(r, k)]),
    pad + '- ',
    pad + '  ',
  );
local groupsYaml(groups, indent) =
  local pad = std.repeat(' ', indent);
  pad + 'groups:\n' + std.join('\n', [
    pad + '  - name: ' + std.escapeStringJson(g.name) + '\n'
    + pad + '    rules:\n'
    + std.join('\n', [ruleYaml(r, indent + 6) for r in g.rules])
    for g in groups
  ]) + '\n';

local ruleGroups = mixin.prometheusRules.groups + mixin.prometheusAlerts.groups;

{
  'deploy/prometheus/alerts.yml':
    header([
      'Alert rules for upstash_backup_exporter. Load with rule_files, beside',
      'rules.yml (the RPO alerts read its recording rules); see prometheus.yml.',
      'Needs Prometheus 2.42 or later (keep_firing_for). Unit tests:',
      '  promtool test rules deploy/prometheus/alerts_test.yml deploy/prometheus/rpo_test.yml',
      '    deploy/prometheus/restore_test.yml deploy/prometheus/replica_test.yml',
      'Runbooks: deploy/README.md, one section per alert.',
    ]) + groupsYaml(mixin.prometheusAlerts.groups, 0),

  'deploy/prometheus/rules.yml':
    header([
      'Recording rules for upstash_backup_exporter: the recovery point of each',
      'database and its compliance with the recovery-point objective (RPO).',
      'Load with rule_files beside alerts.yml. Unit tests:',
      '  promtool test rules deploy/prometheus/rpo_rules_test.yml',
    ]) + groupsYaml(mixin.prometheusRules.groups, 0),

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
    }) + 'spec:\n' + groupsYaml(ruleGroups, 2),

  'deploy/helm/upstash-backup-exporter/files/prometheus-rules.yaml':
    header([
      "The rule groups of the chart's PrometheusRule: the recording groups of",
      'deploy/prometheus/rules.yml, then the alert groups of',
      'deploy/prometheus/alerts.yml.',
    ]) + groupsYaml(ruleGroups, 0),

  'deploy/grafana/upstash-backups.json':
    std.manifestJsonEx(mixin.grafanaDashboards['upstash-backups.json'], '  ') + '\n',
}
