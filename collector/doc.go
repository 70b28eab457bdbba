// Package collector turns the Upstash Developer API's view of Redis backups
// into Prometheus metrics.
//
// It holds the exporter's configuration types and loader (config.go,
// validate.go, configyaml.go, httpclient.go, keyfile.go, configcheck.go),
// the pure summary of one database's backup list (summary.go), the metric
// descriptors that make up the metric contract (metrics.go) and the
// prometheus.Collector that refreshes accounts and databases on scrape
// (collector.go, refresh.go, listing.go, read.go), keeps what they learnt
// (state.go) and turns it into series (emit.go). The collector never talks
// HTTP itself: it drives an API interface that *upstash.Client satisfies, so
// tests can use stubs or the fake server.
package collector
