// Package collector turns the Upstash Developer API's view of Redis backups
// into Prometheus metrics.
//
// In the order data flows: the prometheus.Collector (collector.go) joins or
// starts a refresh on scrape; the refresh (refresh.go) lists the databases
// of each account (listing.go) and reads their backup lists (read.go);
// stats.go is the pure function that turns one backup list into the numbers
// of the metric contract; state.go keeps what the refreshes learnt; emit.go
// turns it into series, described in metrics.go. The collector never talks
// HTTP itself: it drives an API interface that *upstash.Client satisfies,
// and it receives accounts already resolved by package config.
package collector
