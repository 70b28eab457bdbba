// Package deploy holds no code: it is the home of the tests that prove the
// files beside it (alert rules, dashboard, Kubernetes manifests) against the
// exporter's metric contract and the Kubernetes and Prometheus Operator API
// types. It is its own module so that the exporter's go.mod does not carry
// the Kubernetes and Prometheus server dependencies these tests need.
package deploy
