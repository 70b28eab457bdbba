// The Upstash backup monitoring mixin: prometheusAlerts, prometheusRules
// and grafanaDashboards, configured by _config (config.libsonnet).
//
//   local upstash = (import 'upstash-backup-mixin/mixin.libsonnet') + {
//     _config+:: { upstashBackupSelector: 'job="upstash"' },
//   };
(import 'config.libsonnet')
+ (import 'alerts.libsonnet')
+ (import 'rpo.libsonnet')
+ (import 'restore.libsonnet')
+ (import 'dashboards.libsonnet')
