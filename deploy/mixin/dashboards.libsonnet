// The Grafana dashboard "Upstash backups": a row per concern (collection
// health, recovery point, state, size). Every query selects the job and
// instance of the template variables, every panel and target reads the
// ${datasource} variable and has a unit, and the dashboard is not editable:
// the rules of Grafana's dashboard-linter that deploy/dashboard_test.go
// checks. The RPO panels read the recording rules of rpo.libsonnet, which
// have no instance label (deploy/grafana/.lint excludes them from the
// instance rule).
local lib = import 'lib.libsonnet';

{
  local c = $._config,
  local rec = $.rpoRecords,
  local ds = { type: 'prometheus', uid: '${datasource}' },
  // The job and instance matchers of every selector.
  local f = 'job=~"$job", instance=~"$instance"',
  local fa = f + ', account=~"$account"',
  // Joins a per-database expression with the databases of the selected
  // accounts, and names them.
  local named(expr) =
    '%s * on(job, database_id) group_left(database_name) max by (job, database_id, database_name) (upstash_redis_database_info{%s})' % [expr, fa],

  local target(expr, legend='', refId='A', instant=false, format='') =
    {
      datasource: ds,
      refId: refId,
      expr: expr,
      editorMode: 'code',
      legendFormat: legend,
      instant: instant,
      range: !instant,
    } + (if format == '' then {} else { format: format }),

  local statOptions(colorMode='value', textMode='auto') = {
    reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
    colorMode: colorMode,
    graphMode: 'none',
    justifyMode: 'auto',
    orientation: 'auto',
    textMode: textMode,
    wideLayout: true,
    showPercentChange: false,
  },
  local thresholds(steps) = { mode: 'absolute', steps: steps },

  local stat(title, description, unit, targets, gridPos, steps=[{ color: 'green', value: null }], options=statOptions(), extra={}) = {
    type: 'stat',
    title: title,
    description: description,
    datasource: ds,
    gridPos: gridPos,
    fieldConfig: {
      defaults: { unit: unit, thresholds: thresholds(steps), color: { mode: 'thresholds' } } + extra,
      overrides: [],
    },
    options: options,
    targets: targets,
  },

  local timeseries(title, description, unit, targets, gridPos, stacked=false, min=null, overrides=[]) = {
    type: 'timeseries',
    title: title,
    description: description,
    datasource: ds,
    gridPos: gridPos,
    fieldConfig: {
      defaults: {
        unit: unit,
        custom: {
          drawStyle: 'line',
          lineWidth: 1,
          fillOpacity: if stacked then 60 else 10,
          showPoints: 'never',
          spanNulls: false,
          stacking: { mode: if stacked then 'normal' else 'none', group: 'A' },
        },
        color: { mode: 'palette-classic' },
      } + (if min == null then {} else { min: min }),
      overrides: overrides,
    },
    options: {
      legend: { displayMode: 'table', placement: 'right', showLegend: true, calcs: ['lastNotNull'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
    targets: targets,
  },

  local row(title, y) = {
    type: 'row',
    title: title,
    collapsed: false,
    gridPos: { x: 0, y: y, w: 24, h: 1 },
    panels: [],
  },

  local pos(x, y, w, h) = { x: x, y: y, w: w, h: h },
  local onOff(off, on, offColor) = [{ type: 'value', options: {
    '0': { text: off, color: offColor, index: 0 },
    '1': { text: on, color: 'green', index: 1 },
  } }],

  local queryVar(name, label, query, allValue, sort=1) = {
    name: name,
    label: label,
    type: 'query',
    datasource: ds,
    definition: query,
    query: { query: query, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 },
    current: {},
    hide: 0,
    includeAll: true,
    allValue: allValue,
    multi: true,
    options: [],
    refresh: 2,
    regex: '',
    skipUrlSync: false,
    sort: sort,
  },

  local objectiveSeconds = c.rpoDefaultObjectiveSeconds,

  local panels = [
    row('Collection health', 0),
    stat(
      'Accounts reachable',
      'upstash_up per account: OK when the latest finished refresh reached the Upstash Developer API with accepted credentials.',
      'none',
      [target('upstash_up{%s}' % fa, '{{account}}', instant=true)],
      pos(0, 1, 8, 4),
      steps=[{ color: 'red', value: null }, { color: 'green', value: 1 }],
      options=statOptions('background', 'value_and_name'),
      extra={ mappings: onOff('failing', 'OK', 'red') },
    ),
    stat(
      'Databases watched',
      'Databases of the selected accounts that the exporter reports.',
      'none',
      [target('count(upstash_redis_database_info{%s})' % fa, instant=true)],
      pos(8, 1, 4, 4),
    ),
    stat(
      'Failing collections',
      'Databases whose last list-backup call failed.',
      'none',
      [target('count(upstash_backup_exporter_collect_success{%s} == 0 and on(job, instance, database_id) upstash_redis_database_info{%s}) or vector(0)' % [f, fa], instant=true)],
      pos(12, 1, 4, 4),
      steps=[{ color: 'green', value: null }, { color: 'red', value: 1 }],
      options=statOptions('background'),
    ),
    stat(
      'Last collection',
      'How long the last scrape waited for the shared refresh of the Upstash API, longest over the selected exporters.',
      's',
      [target('max(upstash_backup_exporter_collect_duration_seconds{%s})' % f, instant=true)],
      pos(16, 1, 4, 4),
      steps=[{ color: 'green', value: null }, { color: 'orange', value: 10 }],
    ),
    stat(
      'Exporter version',
      'upstash_backup_exporter_build_info of each exporter instance.',
      'none',
      [target('upstash_backup_exporter_build_info{%s}' % f, '{{version}}', instant=true)],
      pos(20, 1, 4, 4),
      options=statOptions('none', 'name'),
    ),
    timeseries(
      'API requests by code',
      'Upstash Developer API calls per second, by HTTP status code (or timeout / error).',
      'reqps',
      [target('sum by (code) (rate(upstash_backup_exporter_api_requests_total{%s}[$__rate_interval]))' % fa, '{{code}}')],
      pos(0, 5, 8, 8),
      stacked=true,
    ),
    timeseries(
      'API latency (p95)',
      '95th percentile of Upstash Developer API call latency, by endpoint.',
      's',
      [target('histogram_quantile(0.95, sum by (le, endpoint) (rate(upstash_backup_exporter_api_request_duration_seconds_bucket{%s}[$__rate_interval])))' % fa, '{{endpoint}}')],
      pos(8, 5, 8, 8),
      min=0,
    ),
    timeseries(
      'Collection duration',
      "How long each exporter's scrapes waited for the shared refresh of the Upstash API.",
      's',
      [target('upstash_backup_exporter_collect_duration_seconds{%s}' % f, '{{instance}}')],
      pos(16, 5, 8, 8),
      min=0,
    ),

    row('Recovery point', 13),
    {
      type: 'bargauge',
      title: 'RPO compliance (30d)',
      description: 'Share of the past 30 days in which the newest completed backup of each database was within its recovery-point objective (expected interval x %s%s, or %s without one). Red below the %s%% target. Recorded by deploy/prometheus/rules.yml; up to an hour behind.' % [
        c.rpoIntervalFactor,
        if c.rpoSlackSeconds == 0 then '' else ' + %ss' % c.rpoSlackSeconds,
        lib.human('%dh' % (objectiveSeconds / 3600)),
        std.toString(std.round(c.rpoTarget * 1e4) / 100),
      ],
      datasource: ds,
      gridPos: pos(0, 14, 8, 9),
      fieldConfig: {
        defaults: {
          unit: 'percentunit',
          min: 0,
          max: 1,
          decimals: 2,
          thresholds: thresholds([{ color: 'red', value: null }, { color: 'green', value: c.rpoTarget }]),
          color: { mode: 'thresholds' },
        },
        overrides: [],
      },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        orientation: 'horizontal',
        displayMode: 'basic',
        showUnfilled: true,
        valueMode: 'color',
        namePlacement: 'auto',
        sizing: 'auto',
        minVizHeight: 16,
        minVizWidth: 8,
        maxVizHeight: 300,
      },
      targets: [target(named('%s{job=~"$job"}' % rec.ratio('30d')), '{{database_name}}', instant=true)],
    },
    timeseries(
      'Recovery-point age',
      'Age of the newest completed backup of each database (what a restore would lose now), and its recovery-point objective (dashed).',
      's',
      [
        target(named('%s{job=~"$job"}' % rec.age), '{{database_name}}'),
        target(named('%s{job=~"$job"}' % rec.objective), '{{database_name}} objective', refId='B'),
      ],
      pos(8, 14, 16, 9),
      min=0,
      overrides=[{
        matcher: { id: 'byRegexp', options: '.* objective$' },
        properties: [
          { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
          { id: 'custom.fillOpacity', value: 0 },
        ],
      }],
    ),

    row('State', 23),
    {
      type: 'table',
      title: 'Databases',
      description: 'One row per watched database. Since last completed: time since the creation of the newest completed backup (red past one day and two hours). Empty cells: no such backup.',
      datasource: ds,
      gridPos: pos(0, 24, 24, 9),
      local perDatabase(expr) = 'max by (database_id) (%s and on(job, instance, database_id) upstash_redis_database_info{%s})' % [expr, fa],
      targets: [
        target('max by (database_id, database_name, account, plan, region) (upstash_redis_database_info{%s})' % fa, refId='A', instant=true, format='table'),
        target(perDatabase('time() - upstash_redis_backup_last_completed_timestamp_seconds{%s}' % f), refId='B', instant=true, format='table'),
        target('max by (database_id, state) (upstash_redis_backup_latest_state{%s} == 1 and on(job, instance, database_id) upstash_redis_database_info{%s})' % [f, fa], refId='C', instant=true, format='table'),
        target(perDatabase('upstash_redis_backup_last_completed_size_bytes{%s}' % f), refId='D', instant=true, format='table'),
        target(perDatabase('upstash_redis_backup_expected_interval_seconds{%s}' % f), refId='E', instant=true, format='table'),
        target(perDatabase('upstash_backup_exporter_collect_success{%s}' % f), refId='F', instant=true, format='table'),
        target(perDatabase('upstash_redis_database_daily_backup_enabled{%s}' % f), refId='G', instant=true, format='table'),
        target(perDatabase('sum without (state) (upstash_redis_backups{%s})' % f), refId='H', instant=true, format='table'),
      ],
      transformations: [
        { id: 'merge', options: {} },
        {
          id: 'organize',
          options: {
            excludeByName: { Time: true, 'Value #A': true },
            indexByName: {
              database_name: 0,
              account: 1,
              'Value #B': 2,
              state: 3,
              'Value #D': 4,
              'Value #E': 5,
              'Value #F': 6,
              'Value #G': 7,
              'Value #H': 8,
              plan: 9,
              region: 10,
              database_id: 11,
            },
            renameByName: {
              database_name: 'Database',
              account: 'Account',
              'Value #B': 'Since last completed',
              state: 'Latest state',
              'Value #D': 'Last size',
              'Value #E': 'Expected interval',
              'Value #F': 'Collection',
              'Value #G': 'Daily backup',
              'Value #H': 'Backups listed',
              plan: 'Plan',
              region: 'Region',
              database_id: 'Database id',
            },
          },
        },
        { id: 'sortBy', options: { sort: [{ field: 'Since last completed', desc: true }] } },
      ],
      fieldConfig: {
        defaults: {
          unit: 'none',
          custom: { align: 'auto', cellOptions: { type: 'auto' }, inspect: false },
          thresholds: thresholds([{ color: 'green', value: null }]),
          color: { mode: 'thresholds' },
        },
        overrides: [
          {
            matcher: { id: 'byName', options: 'Since last completed' },
            properties: [
              { id: 'unit', value: 's' },
              { id: 'custom.cellOptions', value: { type: 'color-background' } },
              { id: 'thresholds', value: thresholds([
                { color: 'green', value: null },
                { color: 'orange', value: c.defaultExpectedIntervalSeconds },
                { color: 'red', value: c.defaultExpectedIntervalSeconds + c.noRecentCompletedGraceHours * 3600 },
              ]) },
              { id: 'noValue', value: 'never' },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Latest state' },
            properties: [
              { id: 'custom.cellOptions', value: { type: 'color-text' } },
              { id: 'mappings', value: [{ type: 'value', options: {
                completed: { color: 'green', index: 0 },
                pending: { color: 'blue', index: 1 },
                failed: { color: 'red', index: 2 },
                unknown: { color: 'orange', index: 3 },
              } }] },
            ],
          },
          { matcher: { id: 'byName', options: 'Last size' }, properties: [{ id: 'unit', value: 'bytes' }] },
          {
            matcher: { id: 'byName', options: 'Expected interval' },
            properties: [{ id: 'unit', value: 's' }, { id: 'noValue', value: 'none' }],
          },
          {
            matcher: { id: 'byName', options: 'Collection' },
            properties: [
              { id: 'custom.cellOptions', value: { type: 'color-text' } },
              { id: 'mappings', value: onOff('failing', 'OK', 'red') },
            ],
          },
          {
            matcher: { id: 'byName', options: 'Daily backup' },
            properties: [
              { id: 'custom.cellOptions', value: { type: 'color-text' } },
              { id: 'mappings', value: onOff('off', 'on', 'orange') },
            ],
          },
        ],
      },
      options: { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '' } },
    },
    timeseries(
      'Backups by state',
      'Backups listed by the Upstash API per state, summed over the selected databases.',
      'short',
      [target('sum by (state) (max by (database_id, state) (upstash_redis_backups{%s} and on(job, instance, database_id) upstash_redis_database_info{%s}))' % [f, fa], '{{state}}')],
      pos(0, 33, 24, 8),
      stacked=true,
    ),

    row('Size', 41),
    timeseries(
      'Last completed backup size',
      'backup_size of the newest completed backup of each database.',
      'bytes',
      [target('upstash_redis_backup_last_completed_size_bytes{%s} * on(job, instance, database_id) group_left(database_name) upstash_redis_database_info{%s}' % [f, fa], '{{database_name}}')],
      pos(0, 42, 12, 8),
    ),
    timeseries(
      'Retained backup size',
      'Sum of backup_size over the completed backups each database keeps.',
      'bytes',
      [target('upstash_redis_backup_retained_size_bytes{%s} * on(job, instance, database_id) group_left(database_name) upstash_redis_database_info{%s}' % [f, fa], '{{database_name}}')],
      pos(12, 42, 12, 8),
    ),

    row('Restore window', 50),
    timeseries(
      'Restore window reach',
      'How far back each database can be restored: the age of its oldest completed backup, and its required_retention (dashed) where one is configured. A reach below the requirement raises UpstashBackupRestoreWindowNotCovered.',
      's',
      [
        target('time() - upstash_redis_backup_oldest_completed_timestamp_seconds{%s} * on(job, instance, database_id) group_left(database_name) upstash_redis_database_info{%s}' % [f, fa], '{{database_name}}'),
        target('upstash_redis_backup_required_retention_seconds{%s} * on(job, instance, database_id) group_left(database_name) upstash_redis_database_info{%s}' % [f, fa], '{{database_name}} required', refId='B'),
      ],
      pos(0, 51, 8, 8),
      min=0,
      overrides=[{
        matcher: { id: 'byRegexp', options: '.* required$' },
        properties: [
          { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
          { id: 'custom.fillOpacity', value: 0 },
        ],
      }],
    ),
    timeseries(
      'Largest gap in the backup chain',
      'Longest time between two consecutive completed backups within the required retention (all listed ones without one). Above 1.5 expected intervals, backups were missed in the middle of the chain (UpstashBackupChainGap).',
      's',
      [target('upstash_redis_backup_largest_gap_seconds{%s} * on(job, instance, database_id) group_left(database_name) upstash_redis_database_info{%s}' % [f, fa], '{{database_name}}')],
      pos(8, 51, 8, 8),
      min=0,
    ),
    timeseries(
      'Newest backup size against the earlier ones',
      'backup_size of the newest completed backup divided by the median size of the completed backups listed before it. Below 0.5, the newest backup shrank (UpstashBackupEmptyOrShrunk).',
      'percentunit',
      [target('upstash_redis_backup_last_completed_size_bytes{%s} / upstash_redis_backup_earlier_completed_size_median_bytes{%s} * on(job, instance, database_id) group_left(database_name) upstash_redis_database_info{%s}' % [f, f, fa], '{{database_name}}')],
      pos(16, 51, 8, 8),
      min=0,
    ),
  ],

  grafanaDashboards+:: {
    'upstash-backups.json': {
      annotations: { list: [{
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      }] },
      description: 'Upstash Redis backups as reported by upstash_backup_exporter. Generated from deploy/mixin.',
      editable: false,
      graphTooltip: 1,
      id: null,
      links: [{
        title: 'Alert runbooks',
        type: 'link',
        icon: 'doc',
        targetBlank: true,
        url: c.runbookURLBase + 'alerts',
      }],
      panels: std.mapWithIndex(function(i, p) p { id: i + 1 }, panels),
      refresh: '1m',
      schemaVersion: 39,
      tags: ['upstash', 'redis', 'backups'],
      templating: { list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
          includeAll: false,
          multi: false,
          options: [],
          refresh: 1,
          regex: '',
          skipUrlSync: false,
        },
        queryVar('job', 'Job', 'label_values(upstash_up, job)', '.+'),
        queryVar('instance', 'Instance', 'label_values(upstash_up{job=~"$job"}, instance)', '.+'),
        queryVar('account', 'Account', 'label_values(upstash_up{%s}, account)' % f, '.*'),
      ] },
      time: { from: 'now-7d', to: 'now' },
      timepicker: {},
      timezone: 'utc',
      title: 'Upstash backups',
      uid: 'upstash-backups',
      version: 1,
      weekStart: '',
    },
  },
}
