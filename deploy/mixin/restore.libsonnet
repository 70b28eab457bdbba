// Alerts on the restore window: can the database be restored to any point
// of its required retention, and can its backups be trusted? They read
// what one list-backup answer says (the exporter's restore-window gauges),
// so they work from the first scrape, without weeks of history.
local lib = import 'lib.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local alert(name, expr, forDuration, summary, description, labels={}) = {
      alert: name,
      expr: expr,
      'for': forDuration,
      labels: { severity: 'warning' } + labels,
      annotations: {
        summary: summary,
        description: description,
        runbook_url: c.runbookURLBase + std.asciiLower(name),
      },
      keep_firing_for: c.keepFiringFor,
    },
    local dbName = lib.databaseName(),
    // Aggregated over the replicas of an HA pair (alerts.libsonnet).
    local without = 'without (%s)' % c.restartLabels,

    groups+: [
      {
        name: 'upstash_backup_restore_window',
        rules: [
          // Not covered, in two rules of one alert:
          // 1. the oldest completed backup is newer than the required
          //    retention: the start of the window cannot be restored.
          alert(
            'UpstashBackupRestoreWindowNotCovered',
            |||
              max %(without)s (upstash_redis_backup_required_retention_seconds)
                > time() - max %(without)s (upstash_redis_backup_oldest_completed_timestamp_seconds)
            ||| % { without: without },
            c.restoreWindowFor,
            'An Upstash database cannot be restored as far back as required.',
            'The oldest completed backup of Upstash database ' + dbName
            + ' does not reach back the required {{ $value | humanizeDuration }}: points in time before it cannot be restored.',
            labels={ reason: 'window_start' },
          ),
          // 2. no completed backup within the required retention at all
          //    (none is listed, or all are older).
          alert(
            'UpstashBackupRestoreWindowNotCovered',
            'max %s (upstash_redis_backups_in_required_retention) == 0' % without,
            c.restoreWindowFor,
            'An Upstash database cannot be restored as far back as required.',
            'Upstash database ' + dbName
            + ' has no completed backup within its required retention: no point of it can be restored.',
            labels={ reason: 'none_within' },
          ),

          alert(
            'UpstashBackupChainGap',
            |||
              max %(without)s (upstash_redis_backup_largest_gap_seconds)
                > %(factor)s * (
                  max %(without)s (upstash_redis_backup_expected_interval_seconds)
                  or max %(without)s (upstash_redis_backup_largest_gap_seconds) * 0 + %(default)s
                )
            ||| % { without: without, factor: c.chainGapFactor, default: c.defaultExpectedIntervalSeconds },
            c.chainGapFor,
            'Backups are missing in the middle of an Upstash backup chain.',
            'Two consecutive completed backups of Upstash database ' + dbName
            + ' are {{ $value | humanizeDuration }} apart, more than %s times its expected interval: the points in time between them cannot be restored, even though the latest backup may be fine.' % c.chainGapFactor,
          ),
        ],
      },
    ],
  },
}
