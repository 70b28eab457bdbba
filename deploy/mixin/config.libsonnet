// Settings of the Upstash backup mixin. Override any of them with
//   (import 'mixin.libsonnet') + { _config+:: { upstashBackupSelector: 'job="upstash"' } }
{
  _config+:: {
    // Label matchers of the exporter's scrape job. The alerts about the
    // target itself (up, absent) use it; so do the recording rules and the
    // dashboard's job variable.
    upstashBackupSelector: 'job="upstash_backup_exporter"',

    // Where the runbooks are: one section per alert, anchored by the
    // alert's name in lower case.
    runbookURLBase: 'https://github.com/upstash-backup-exporter/upstash_backup_exporter/blob/main/deploy/README.md#',

    // How far back the alerts about vanished series look.
    lookback: '2d',
    // Labels that change when the exporter restarts or is replicated.
    restartLabels: 'instance, pod',
    // keep_firing_for of every alert over the exporter's own series.
    keepFiringFor: '5m',

    // Holds (for:) of the alerts.
    exporterDownFor: '10m',
    exporterAbsentFor: '15m',
    configReloadFailedFor: '10m',
    replicaDegradedFor: '15m',
    credentialsRejectedFor: '5m',
    credentialsRejectedWindow: '15m',
    accountUnreadableFor: '15m',
    accountListsNoDatabasesFor: '15m',
    collectionFailingFor: '15m',
    dataFrozenFor: '5m',
    databaseVanishedFor: '30m',
    noRecentCompletedFor: '10m',
    neverCompletedFor: '1h',
    neverListedFor: '25h',
    listEmptiedFor: '15m',
    latestFailedFor: '10m',
    stuckPendingFor: '15m',
    emptyOrShrunkFor: '5m',
    dailyDisabledFor: '30m',
    restoreWindowFor: '30m',
    chainGapFor: '10m',

    // Thresholds of the alerts.
    // UpstashBackupDataFrozen: hours since the last successful read.
    dataFrozenHours: 2,
    // UpstashBackupNoRecentCompleted: hours of grace on top of the
    // expected interval, and the interval assumed when none is exported.
    noRecentCompletedGraceHours: 2,
    defaultExpectedIntervalSeconds: 86400,
    // UpstashBackupStuckPending: hours a backup may stay pending.
    stuckPendingHours: 3,
    // UpstashBackupEmptyOrShrunk: the fraction of the largest size of the
    // window below which a backup counts as shrunk.
    shrunkRatio: 0.5,
    shrunkWindow: '1d',
    // UpstashBackupChainGap: how many expected intervals two consecutive
    // completed backups may be apart (a missing daily backup makes 2).
    chainGapFactor: 1.5,

    // Recovery-point objective (RPO). A database's recovery point is its
    // newest completed backup; it is within its objective while the
    // backup's age is at most
    //   expected_interval * rpoIntervalFactor + rpoSlackSeconds,
    // or rpoDefaultObjectiveSeconds when the exporter exports no expected
    // interval for the database.
    rpoIntervalFactor: 1.5,
    rpoSlackSeconds: 0,
    rpoDefaultObjectiveSeconds: 1.5 * 86400,
    // The share of the SLO period (30 days) a database must spend within
    // its objective.
    rpoTarget: 0.99,
    // Multi-window multi-burn-rate alerts on the 30-day error budget
    // (Google SRE workbook, chapter 5): the budget is burnt `factor` times
    // faster than it may be over both windows.
    rpoBurnRates: {
      fast: [
        { long: '1h', short: '5m', factor: 14.4 },
        { long: '6h', short: '30m', factor: 6 },
      ],
      slow: [
        { long: '3d', short: '6h', factor: 1 },
      ],
    },
    rpoFastBurnFor: '5m',
    rpoSlowBurnFor: '30m',
  },
}
