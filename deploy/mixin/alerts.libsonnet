// The alert rules. Every alert waits (for:) before firing; every alert over
// the exporter's own series keeps firing for a while after its condition is
// gone (keep_firing_for), because a failed scrape marks the target's series
// stale and would otherwise resolve the alert for one evaluation.
//
// Conventions:
// - Per-database series carry database_id only. Expressions join nothing,
//   so an alert keeps its identity when upstash_redis_database_info is
//   briefly missing (list-databases failing); the description looks the
//   name up in upstash_redis_database_info and falls back to the id.
// - Alerts about something that may have stopped being exported look back
//   over the past `lookback` (max_over_time(...[2d])) instead of needing
//   the series now: an exporter restarted while the API is down, an
//   account that lists no databases, a list-backup answer of [] must not
//   end an alert. They aggregate with `max without (instance, pod)`, so
//   that a restarted pod (a new instance label) or two replicas count as
//   one exporter; rules that compare with the present match
//   `ignoring (instance, pod)`.
// - Two replicas may watch the same databases (HA, deploy/README.md):
//   every per-database and per-account alert aggregates the restart
//   labels away, so that a pair raises one alert, and the survivor alone
//   still raises it when one replica dies. Timestamps take the max over
//   the replicas: they only move forward, so the max is the newest read.
//   Success, counts and flags take the max too: a database is unreadable,
//   has no backup listed or daily backup off only if no replica says
//   otherwise. Only the alerts about a target itself (down, config
//   reload, a replica that cannot read what another reads) stay per
//   instance.
// - Runbooks: deploy/README.md, one section per alert.
local lib = import 'lib.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local keep = { keep_firing_for: c.keepFiringFor },
    local runbook(alert) = c.runbookURLBase + std.asciiLower(alert),
    local alert(name, expr, forDuration, severity, summary, description, labels={}, keepFiring=true) =
      {
        alert: name,
        expr: expr,
        'for': forDuration,
        labels: { severity: severity } + labels,
        annotations: {
          summary: summary,
          description: description,
          runbook_url: runbook(name),
        },
      } + (if keepFiring then keep else {}),
    local dbName = lib.databaseName(),
    local dbNameLookback = lib.databaseName(c.lookback),
    local without = 'without (%s)' % c.restartLabels,
    local ignoring = 'ignoring (%s)' % c.restartLabels,
    // "job upstash_backup_exporter" for a selector of one job, else the
    // selector itself.
    local sel = c.upstashBackupSelector,
    local oneJob = std.startsWith(sel, 'job="') && std.endsWith(sel, '"')
                   && std.length(std.findSubstr('"', sel)) == 2,
    local jobText = if oneJob then 'job ' + sel[5:std.length(sel) - 1] else '{' + sel + '}',

    groups+: [
      {
        name: 'upstash_backup_exporter',
        rules: [
          // Down, in two rules of one alert, per instance:
          // 1. critical when no other target of the job is up, or the
          //    instance held a shard of the databases (--shard.count > 1
          //    in the past `lookback`): its databases are not watched.
          alert(
            'UpstashBackupExporterDown',
            |||
              up{%(sel)s} == 0
              unless %(ignoring)s
              up{%(sel)s} == 1
              or
              up{%(sel)s} == 0
              and
              max_over_time(upstash_backup_exporter_shards{%(sel)s}[%(lookback)s]) > 1
            ||| % { sel: c.upstashBackupSelector, ignoring: ignoring, lookback: c.lookback },
            c.exporterDownFor,
            'critical',
            'Upstash backup exporter is down.',
            'Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for '
            + lib.human(c.exporterDownFor)
            + '. No other replica of the job is up, or this one read a shard of the databases, so backup alerts cannot fire for the databases it read.',
            keepFiring=false,
          ),
          // 2. warning when it is one replica of an unsharded pair (or
          //    more) and another is up: that one still reads every
          //    database and raises their alerts; availability is reduced.
          alert(
            'UpstashBackupExporterDown',
            |||
              up{%(sel)s} == 0
              and %(ignoring)s
              up{%(sel)s} == 1
              unless
              max_over_time(upstash_backup_exporter_shards{%(sel)s}[%(lookback)s]) > 1
            ||| % { sel: c.upstashBackupSelector, ignoring: ignoring, lookback: c.lookback },
            c.exporterDownFor,
            'warning',
            'A replica of the Upstash backup exporter is down.',
            'Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }}) for '
            + lib.human(c.exporterDownFor)
            + '. Another replica of the job is up and still watches the backups; until this one is back, nothing stands in for that one.',
            keepFiring=false,
          ),

          alert(
            'UpstashBackupExporterAbsent',
            'absent(up{%s})' % c.upstashBackupSelector,
            c.exporterAbsentFor,
            'critical',
            'Upstash backup exporter is not scraped at all.',
            'Prometheus has no target in ' + jobText + ' for '
            + lib.human(c.exporterAbsentFor)
            + ', so no Upstash backup alert can fire.',
            keepFiring=false,
          ),

          alert(
            'UpstashBackupExporterConfigReloadFailed',
            'upstash_backup_exporter_config_last_reload_successful == 0',
            c.configReloadFailedFor,
            'warning',
            'Upstash backup exporter configuration reload failed.',
            'The last configuration load on {{ $labels.instance }} failed; the exporter keeps running with its previous configuration.',
          ),

          // One replica cannot read what another replica of the job reads:
          // the max of the rules below hides it, and should the other stop,
          // nothing reads it. Per instance, in two rules of one alert, each
          // the complement of an all-replicas alert: it fires `unless` that
          // alert's aggregated condition holds, so the two never fire for
          // one cause (a single replica, every replica failing, and a
          // shard's databases, exported by one replica only, never raise
          // it). Instant vectors only: a stopped or restarted pod's last
          // value (its series are stale) vouches for nothing. So a failed
          // scrape of either replica restarts the hold; once firing,
          // keep_firing_for rides over it.
          // 1. The account: no call of this replica succeeds.
          alert(
            'UpstashBackupExporterReplicaDegraded',
            |||
              upstash_up == 0
              unless %(ignoring)s
              max %(without)s (upstash_up) == 0
            ||| % { without: without, ignoring: ignoring },
            c.replicaDegradedFor,
            'warning',
            'A replica of the Upstash backup exporter cannot read what another replica reads.',
            'Replica {{ $labels.instance }} (job {{ $labels.job }}) has not reached the Upstash Developer API with accepted credentials for account {{ $labels.account }} for '
            + lib.human(c.replicaDegradedFor)
            + ', while another replica of the job reads the account. A pair now rests on the other replica alone; a shard leaves its databases unread.',
            labels={ reason: 'account_unreadable' },
          ),
          // 2. One database: list-backup fails on this replica. A replica
          //    that reaches no account raises it for each database too;
          //    the example Alertmanager configuration keeps the account's
          //    alone.
          alert(
            'UpstashBackupExporterReplicaDegraded',
            |||
              upstash_backup_exporter_collect_success == 0
              unless %(ignoring)s
              max %(without)s (upstash_backup_exporter_collect_success) == 0
            ||| % { without: without, ignoring: ignoring },
            c.replicaDegradedFor,
            'warning',
            'A replica of the Upstash backup exporter cannot read what another replica reads.',
            'Replica {{ $labels.instance }} (job {{ $labels.job }}) has failed to read the backups of Upstash database ' + dbName + ' for '
            + lib.human(c.replicaDegradedFor)
            + ", while another replica of the job reads them. The database now rests on the other replica alone, and the pair's backup series mix this replica's last successful read with the other's.",
            labels={ reason: 'collection_failing' },
          ),

          // The account is read by no replica, and some replica was
          // answered 401 or 403.
          alert(
            'UpstashAPICredentialsRejected',
            |||
              max %(without)s (upstash_up) == 0
              and on(job, account)
              sum by (job, account) (
                increase(upstash_backup_exporter_api_requests_total{code=~"401|403"}[%(window)s])
              ) > 0
            ||| % { without: without, window: c.credentialsRejectedWindow },
            c.credentialsRejectedFor,
            'critical',
            "Upstash API rejects the exporter's credentials.",
            'The Upstash Developer API answers 401/403 to the credentials of account {{ $labels.account }}: no database of this account is being read.',
          ),

          // The account cannot be read: list-databases or every list-backup
          // call fails (API down, egress blocked, 5xx, 429, 401/403). The
          // last value of the past 5 minutes, aggregated over instance and
          // pod, bridges the scrape or two a restarted pod misses, so that a
          // restart during the outage (a new instance label) does not start
          // the hold again.
          alert(
            'UpstashAccountUnreadable',
            'max %s (last_over_time(upstash_up[5m])) == 0' % without,
            c.accountUnreadableFor,
            'critical',
            'An Upstash account cannot be read.',
            'No call of the exporter reached the Upstash Developer API with accepted credentials for account {{ $labels.account }} for '
            + lib.human(c.accountUnreadableFor)
            + ': none of its databases is being read, and in discovery mode their series are gone.',
          ),

          // An empty list-databases answer (200 with [] or null): in
          // discovery mode every database of the account is gone from
          // /metrics, while upstash_up stays 1.
          alert(
            'UpstashAccountListsNoDatabases',
            'max %s (last_over_time(upstash_redis_databases[5m])) == 0' % without,
            c.accountListsNoDatabasesFor,
            'critical',
            'An Upstash account lists no databases.',
            'list-databases answers an empty list for account {{ $labels.account }} for '
            + lib.human(c.accountListsNoDatabasesFor)
            + ': the key belongs to another account or team, or every database was deleted. No database of this account is discovered.',
          ),

          alert(
            'UpstashBackupCollectionFailing',
            'max %s (upstash_backup_exporter_collect_success) == 0' % without,
            c.collectionFailingFor,
            'warning',
            'Backups of an Upstash database cannot be read.',
            'list-backup has failed for ' + lib.human(c.collectionFailingFor) + ' for Upstash database '
            + dbName + '. Its backup series show the last successful read.',
          ),

          // Looks back `lookback`: it keeps firing when the timestamp series
          // is gone (a restart while list-backup fails, the database no
          // longer listed).
          alert(
            'UpstashBackupDataFrozen',
            |||
              time()
              - max %(without)s (
                  max_over_time(upstash_backup_exporter_last_collect_success_timestamp_seconds[%(lookback)s])
                )
              > %(hours)s * 3600
            ||| % { without: without, lookback: c.lookback, hours: c.dataFrozenHours },
            c.dataFrozenFor,
            'critical',
            'Backup data of an Upstash database has not been refreshed for hours.',
            'The backups of Upstash database ' + dbNameLookback
            + ' were last read successfully {{ $value | humanizeDuration }} ago; backup alerts for it are working from old data.',
          ),

          // A database that was read in the past `lookback` and is no longer
          // on /metrics: list-databases stopped listing it, the account
          // cannot be read since a restart, or it was removed from the
          // configuration. A restarted pod exports it again under a new
          // instance, which matches (ignoring instance and pod), so restarts
          // do not fire it. Resolves `lookback` after the database was last
          // exported; silence a database removed on purpose for that long.
          alert(
            'UpstashBackupDatabaseVanished',
            |||
              max %(without)s (
                max_over_time(upstash_backup_exporter_collect_success[%(lookback)s])
              )
              unless %(ignoring)s
              upstash_backup_exporter_collect_success
            ||| % { without: without, ignoring: ignoring, lookback: c.lookback },
            c.databaseVanishedFor,
            'critical',
            'An Upstash database watched until recently is no longer watched.',
            'Upstash database ' + dbNameLookback + ' was watched in the past ' + lib.human(c.lookback)
            + ' and has had no series on the exporter for ' + lib.human(c.databaseVanishedFor)
            + ': its backups are no longer checked.',
          ),

          // Expected interval: upstash_redis_backup_expected_interval_seconds,
          // or defaultExpectedIntervalSeconds when the exporter exports none
          // for the database, plus a grace. Both are taken over the past
          // `lookback`, so the alert survives the series disappearing (a
          // restart during an outage, a list-backup answer of []), until
          // UpstashBackupNeverCompleted (none_listed) or the account alerts
          // take over; the longest expected interval of the window is used,
          // so a cadence just changed to hourly does not page on the old
          // daily backups.
          alert(
            'UpstashBackupNoRecentCompleted',
            |||
              time()
              - max %(without)s (
                  max_over_time(upstash_redis_backup_last_completed_timestamp_seconds[%(lookback)s])
                )
              > (
                  max %(without)s (
                    max_over_time(upstash_redis_backup_expected_interval_seconds[%(lookback)s])
                  )
                  or
                  max %(without)s (
                    max_over_time(upstash_redis_backup_last_completed_timestamp_seconds[%(lookback)s])
                  ) * 0 + %(default)d
                ) + %(grace)s * 3600
            ||| % { without: without, lookback: c.lookback, default: c.defaultExpectedIntervalSeconds, grace: c.noRecentCompletedGraceHours },
            c.noRecentCompletedFor,
            'critical',
            'No Upstash backup has completed within the expected interval.',
            'The newest completed backup of Upstash database ' + dbNameLookback
            + ' was created {{ $value | humanizeDuration }} ago, longer than its expected backup interval plus '
            + lib.human('%dh' % c.noRecentCompletedGraceHours) + '.',
          ),

          // No backup has ever completed, in two rules of one alert. A
          // database with daily backup off and no backup at all is left to
          // UpstashBackupDailyDisabled.
          // 1. Backups were attempted (some are listed) and none completed.
          alert(
            'UpstashBackupNeverCompleted',
            |||
              max %(without)s (sum without (state) (upstash_redis_backups)) > 0
              and
              max without (%(restart)s, state) (upstash_redis_backups{state="completed"}) == 0
            ||| % { without: without, restart: c.restartLabels },
            c.neverCompletedFor,
            'critical',
            'An Upstash database has no completed backup at all.',
            'Upstash database ' + dbName
            + ' is expected to be backed up, or has backups listed, but none of them has completed: there is nothing to restore from.',
            labels={ reason: 'none_completed' },
          ),

          // 2. Backups are expected (an expected interval is exported) and
          //    none is listed. A new database waits up to a day for its
          //    first scheduled backup, so this holds for longer.
          alert(
            'UpstashBackupNeverCompleted',
            |||
              max %(without)s (sum without (state) (upstash_redis_backups)) == 0
              and
              max %(without)s (upstash_redis_backup_expected_interval_seconds)
            ||| % { without: without },
            c.neverListedFor,
            'critical',
            'An Upstash database has no completed backup at all.',
            'Upstash database ' + dbName
            + ' is expected to be backed up, or has backups listed, but none of them has completed: there is nothing to restore from.',
            labels={ reason: 'none_listed' },
          ),

          // list-backup answers no backup (200 with [] or null) for a
          // database that had backups in the past `lookback`. Restart-proof
          // like UpstashAccountUnreadable. No state is ever negative, so the
          // total was above 0 in the window exactly when some state was.
          alert(
            'UpstashBackupListEmptied',
            |||
              max %(without)s (sum without (state) (last_over_time(upstash_redis_backups[5m]))) == 0
              and %(ignoring)s
              max without (%(restart)s, state) (max_over_time(upstash_redis_backups[%(lookback)s])) > 0
            ||| % { without: without, ignoring: ignoring, restart: c.restartLabels, lookback: c.lookback },
            c.listEmptiedFor,
            'critical',
            'Upstash lists no backup any more for a database that had some.',
            'list-backup lists no backup of Upstash database ' + dbNameLookback
            + ' although it listed backups in the past ' + lib.human(c.lookback)
            + ': the backups were deleted, or the API answers for the wrong account.',
          ),

          // Ties count as failed, as in upstash_redis_backup_latest_state.
          // The newest failure any replica read against the newest
          // completion any replica read.
          alert(
            'UpstashBackupLatestFailed',
            |||
              max %(without)s (upstash_redis_backup_last_failed_timestamp_seconds)
                >= max %(without)s (upstash_redis_backup_last_completed_timestamp_seconds)
              or
              (
                max %(without)s (upstash_redis_backup_last_failed_timestamp_seconds)
                unless max %(without)s (upstash_redis_backup_last_completed_timestamp_seconds)
              )
            ||| % { without: without },
            c.latestFailedFor,
            'warning',
            'The latest finished Upstash backup failed.',
            'Upstash database ' + dbName
            + ' has a failed backup from {{ $value | humanizeTimestamp }} and no completed backup since.',
          ),

          alert(
            'UpstashBackupStuckPending',
            'time() - max %s (upstash_redis_backup_oldest_pending_timestamp_seconds) > %s * 3600' % [without, c.stuckPendingHours],
            c.stuckPendingFor,
            'warning',
            'An Upstash backup has been pending for hours.',
            'The oldest pending backup of Upstash database ' + dbName
            + ' was started {{ $value | humanizeDuration }} ago and has neither completed nor failed.',
          ),

          // Shrunk: less than shrunkRatio of the largest last-completed size
          // seen in shrunkWindow. Clears when a backup of normal size
          // completes, or shrunkWindow after a smaller size became the norm.
          alert(
            'UpstashBackupEmptyOrShrunk',
            |||
              max %(without)s (upstash_redis_backup_last_completed_size_bytes) == 0
              or
              max %(without)s (upstash_redis_backup_last_completed_size_bytes)
                < %(ratio)s * max %(without)s (upstash_redis_backup_earlier_completed_size_median_bytes)
              or
              max %(without)s (upstash_redis_backup_last_completed_size_bytes)
                < %(ratio)s * max %(without)s (max_over_time(upstash_redis_backup_last_completed_size_bytes[%(window)s]))
            ||| % { without: without, ratio: c.shrunkRatio, window: c.shrunkWindow },
            c.emptyOrShrunkFor,
            'warning',
            'The latest completed Upstash backup is empty or much smaller than before.',
            'The newest completed backup of Upstash database ' + dbName
            + ' is {{ $value | humanize1024 }}B: empty, or less than half the median size of the completed backups listed before it, or of the largest size seen in the past '
            + std.strReplace(lib.human(c.shrunkWindow), '1 day', 'day') + '.',
          ),

          alert(
            'UpstashBackupDailyDisabled',
            'max %s (upstash_redis_database_daily_backup_enabled) == 0' % without,
            c.dailyDisabledFor,
            'warning',
            'Daily backup is switched off on a watched Upstash database.',
            'Daily backup is off on Upstash database ' + dbName + ', which this exporter watches.',
          ),
        ],
      },
    ],
  },
}
