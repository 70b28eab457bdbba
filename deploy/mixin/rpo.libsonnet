// Recovery-point objective (RPO) of each database, the SLO way.
//
// The recovery point of a database is its newest completed backup; its age
// is what a restore would lose. A database is within its objective while
// that age is at most its objective (config.libsonnet: the expected
// interval times a factor plus a slack, or a default). The SLI is the share
// of rule evaluations within the objective; the SLO asks for rpoTarget of
// 30 days. The alerts are multi-window multi-burn-rate alerts on that
// 30-day error budget.
//
// Cost: one sample per database per evaluation for each recorded series.
// The windows up to 6h average the 0/1 series directly (at most 360
// samples at a 1m interval); the longer ones average the 1h ratio at each
// full hour (a subquery with a 1h step: 72 samples for 3d, 720 for 30d),
// so they are up to an hour behind. Until a first full hour has passed
// they fall back to the 1h ratio.
//
// No sample is recorded while the exporter exports no completed-backup
// timestamp for a database (collection failing since a restart,
// list-backup answering []): the SLI covers the time the recovery point
// was known. The staleness alerts cover the rest.
local lib = import 'lib.libsonnet';

{
  local c = $._config,
  local without = 'without (%s)' % c.restartLabels,

  local shortWindows = std.set(std.flattenArrays([
    [w.short for w in c.rpoBurnRates[k]]
    for k in std.objectFields(c.rpoBurnRates)
  ])),
  local longWindows = std.set(std.flattenArrays([
    [w.long for w in c.rpoBurnRates[k]]
    for k in std.objectFields(c.rpoBurnRates)
  ])),
  // Every window a ratio is recorded for, shortest first: those of the
  // burn-rate alerts, the hour the long windows are built from, and the
  // 30-day SLO period.
  local windows = std.sort(std.set(shortWindows + longWindows + ['1h', '30d']), lib.seconds),
  local subqueryFrom = lib.seconds('6h'),

  local record = {
    age: 'upstash_database:recovery_point_age_seconds',
    objective: 'upstash_database:rpo_objective_seconds',
    within: 'upstash_database:rpo_within_objective',
    ratio(w): 'upstash_database:rpo_compliance:ratio_' + w,
  },
  rpoRecords:: record,

  prometheusRules+:: {
    groups+: [
      {
        name: 'upstash_backup_rpo_rules',
        rules: [
          {
            // The age of the newest completed backup, over every instance
            // and pod that exports the database.
            record: record.age,
            expr: |||
              time()
              - max %(without)s (
                  upstash_redis_backup_last_completed_timestamp_seconds{%(sel)s}
                )
            ||| % { without: without, sel: c.upstashBackupSelector },
          },
          {
            record: record.objective,
            expr: |||
              max %(without)s (
                upstash_redis_backup_expected_interval_seconds{%(sel)s}
              ) * %(factor)s%(slack)s
              or
              %(age)s * 0 + %(default)s
            ||| % {
              without: without,
              sel: c.upstashBackupSelector,
              factor: c.rpoIntervalFactor,
              slack: if c.rpoSlackSeconds == 0 then '' else ' + %s' % c.rpoSlackSeconds,
              age: record.age,
              default: c.rpoDefaultObjectiveSeconds,
            },
          },
          {
            // 1 while the recovery point is within the objective, else 0.
            record: record.within,
            expr: '%s <= bool %s\n' % [record.age, record.objective],
          },
        ] + [
          {
            record: record.ratio(w),
            expr:
              if lib.seconds(w) <= subqueryFrom
              then 'avg_over_time(%s[%s])\n' % [record.within, w]
              else 'avg_over_time(%s[%s:1h])\nor\n%s\n' % [record.ratio('1h'), w, record.ratio('1h')],
          }
          for w in windows
        ],
      },
    ],
  },

  prometheusAlerts+:: {
    // Rounded: 1 - 0.99 is 0.010000000000000009 in floating point.
    local budget = std.round((1 - c.rpoTarget) * 1e6) / 1e6,
    // The burn rate over window w: how many times faster than allowed the
    // 30-day budget is being spent.
    local burn(w) = '(1 - %s) / %s' % [record.ratio(w), budget],
    local condition(pairs) = std.join('\nor\n', [
      '(\n  %s > %s\n  and\n  %s > %s\n)' % [burn(p.long), p.factor, burn(p.short), p.factor]
      for p in pairs
    ]) + '\n',
    local windowsText(pairs) = std.join(' and ', ['%s/%s' % [p.long, p.short] for p in pairs]),
    local percent = std.toString(std.round(c.rpoTarget * 1e4) / 100) + '%',
    local rpoAlert(name, pairs, forDuration, severity, summary, pace) = {
      alert: name,
      expr: condition(pairs),
      'for': forDuration,
      keep_firing_for: c.keepFiringFor,
      labels: { severity: severity },
      annotations: {
        summary: summary,
        description:
          'The newest completed backup of Upstash database ' + lib.databaseName()
          + ' has been older than its recovery-point objective so often lately ({{ $value | printf "%.1f" }} times the sustainable rate, windows '
          + windowsText(pairs) + ') that the 30-day budget of the ' + percent + ' objective ' + pace + '.',
        runbook_url: c.runbookURLBase + std.asciiLower(name),
      },
    },

    groups+: [
      {
        name: 'upstash_backup_rpo',
        rules: [
          rpoAlert(
            'UpstashBackupRPOBudgetBurnFast',
            c.rpoBurnRates.fast,
            c.rpoFastBurnFor,
            'critical',
            'An Upstash database is burning its recovery-point error budget fast.',
            'will be gone within days',
          ),
          rpoAlert(
            'UpstashBackupRPOBudgetBurnSlow',
            c.rpoBurnRates.slow,
            c.rpoSlowBurnFor,
            'warning',
            'An Upstash database is using up its recovery-point error budget.',
            'will be gone before the 30 days are over',
          ),
        ],
      },
    ],
  },
}
