//go:build race

package upstash

func init() { raceEnabled = true }
