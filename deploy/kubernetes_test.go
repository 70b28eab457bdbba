package deploy

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite kubernetes/prometheusrule.yaml from prometheus/alerts.yml")

const (
	k8sDir             = "kubernetes"
	prometheusRuleFile = "kubernetes/prometheusrule.yaml"
	exporterPort       = 10035
)

// manifests maps each file of kubernetes/ to the API type it must decode
// into strictly; a file not listed here fails the test.
func manifests() map[string]func() any {
	return map[string]func() any{
		"configmap.yaml":      func() any { return &corev1.ConfigMap{} },
		"deployment.yaml":     func() any { return &appsv1.Deployment{} },
		"prometheusrule.yaml": func() any { return &monitoringv1.PrometheusRule{} },
		"secret.example.yaml": func() any { return &corev1.Secret{} },
		"service.yaml":        func() any { return &corev1.Service{} },
		"servicemonitor.yaml": func() any { return &monitoringv1.ServiceMonitor{} },
	}
}

var wantTypeMeta = map[reflect.Type]metav1.TypeMeta{
	reflect.TypeFor[*corev1.ConfigMap]():            {APIVersion: "v1", Kind: "ConfigMap"},
	reflect.TypeFor[*corev1.Secret]():               {APIVersion: "v1", Kind: "Secret"},
	reflect.TypeFor[*corev1.Service]():              {APIVersion: "v1", Kind: "Service"},
	reflect.TypeFor[*appsv1.Deployment]():           {APIVersion: "apps/v1", Kind: "Deployment"},
	reflect.TypeFor[*monitoringv1.ServiceMonitor](): {APIVersion: "monitoring.coreos.com/v1", Kind: "ServiceMonitor"},
	reflect.TypeFor[*monitoringv1.PrometheusRule](): {APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule"},
}

// loadManifests decodes every file of kubernetes/ strictly: an unknown or
// misspelt field, a duplicate key or a second document is an error.
func loadManifests(t *testing.T) map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(k8sDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	types := manifests()
	out := map[string]any{}
	for _, path := range files {
		name := filepath.Base(path)
		newObj, ok := types[name]
		if !ok {
			t.Errorf("%s: no API type known for this file; add it to manifests()", path)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("\n---")) {
			t.Errorf("%s: one object per file", path)
		}
		obj := newObj()
		if err := decodeStrict(b, obj); err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		tm := reflect.ValueOf(obj).Elem().FieldByName("TypeMeta").Interface().(metav1.TypeMeta)
		if want := wantTypeMeta[reflect.TypeOf(obj)]; tm != want {
			t.Errorf("%s: %s %s, want %s %s", path, tm.APIVersion, tm.Kind, want.APIVersion, want.Kind)
		}
		out[name] = obj
	}
	for name := range types {
		if _, ok := out[name]; !ok && !t.Failed() {
			t.Errorf("%s/%s is missing", k8sDir, name)
		}
	}
	return out
}

func TestManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	loadManifests(t)
}

// TestStrictDecodingCatchesTypos makes sure the decoding above would fail on
// the mistake it is there for.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(k8sDir, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typo := range [][2]string{
		{"readOnlyRootFilesystem:", "readOnlyRootFileSystem:"},
		{"livenessProbe:", "livenesProbe:"},
		{"runAsNonRoot:", "runAsNonroot:"},
	} {
		bad := bytes.Replace(b, []byte(typo[0]), []byte(typo[1]), 1)
		if bytes.Equal(bad, b) {
			t.Fatalf("deployment.yaml has no %q", typo[0])
		}
		if err := decodeStrict(bad, &appsv1.Deployment{}); err == nil {
			t.Errorf("%s misspelt as %s decodes without error", typo[0], typo[1])
		}
	}
}

func TestDeploymentHardening(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	dep, ok := m["deployment.yaml"].(*appsv1.Deployment)
	if !ok {
		t.Fatal("no Deployment")
	}
	pod := dep.Spec.Template.Spec
	if psc := pod.SecurityContext; psc == nil || !isTrue(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken must be false: the exporter never talks to the Kubernetes API")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case !isTrue(sc.ReadOnlyRootFilesystem):
		t.Error("readOnlyRootFilesystem must be true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation must be false")
	case !isTrue(sc.RunAsNonRoot):
		t.Error("runAsNonRoot must be true")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v: want drop [ALL] and nothing added", sc.Capabilities)
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[res]; !ok {
			t.Errorf("no %s request", res)
		}
		if _, ok := c.Resources.Limits[res]; !ok {
			t.Errorf("no %s limit", res)
		}
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != exporterPort {
		t.Errorf("ports %+v, want one on %d", c.Ports, exporterPort)
	}
	portName := c.Ports[0].Name
	checkProbe := func(kind string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET of %s", kind, path)
			return
		}
		if p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromString(portName) {
			t.Errorf("%s probe: GET %s on %s, want %s on %s", kind, p.HTTPGet.Path, p.HTTPGet.Port.String(), path, portName)
		}
	}
	checkProbe("liveness", c.LivenessProbe, "/-/healthy")
	checkProbe("readiness", c.ReadinessProbe, "/-/ready")

	// The configuration file named by --config.file comes from the
	// ConfigMap, and the key file it names from the Secret.
	mounts := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name {
				if !vm.ReadOnly {
					t.Errorf("volume %s is mounted writable", v.Name)
				}
				mounts[vm.MountPath] = v
			}
		}
	}
	configPath := flagValue(c.Args, "--config.file")
	cmVol, ok := mounts[filepath.Dir(configPath)]
	if !ok || cmVol.ConfigMap == nil {
		t.Fatalf("--config.file=%s is not in a mounted ConfigMap (mounts %v)", configPath, slices.Collect(mapKeys(mounts)))
	}
	cm, _ := m["configmap.yaml"].(*corev1.ConfigMap)
	if cm == nil || cm.Name != cmVol.ConfigMap.Name {
		t.Fatalf("the Deployment mounts ConfigMap %s, configmap.yaml does not define it", cmVol.ConfigMap.Name)
	}
	config, ok := cm.Data[filepath.Base(configPath)]
	if !ok {
		t.Fatalf("ConfigMap has no key %s", filepath.Base(configPath))
	}
	var cfg struct {
		Accounts []struct {
			APIKeyFile string `json:"api_key_file"`
			APIKey     string `json:"api_key"`
		} `json:"accounts"`
	}
	if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatalf("ConfigMap %s: %v", filepath.Base(configPath), err)
	}
	secret, _ := m["secret.example.yaml"].(*corev1.Secret)
	for i, a := range cfg.Accounts {
		if a.APIKey != "" {
			t.Errorf("accounts[%d]: api_key in a ConfigMap; use api_key_file and the Secret", i)
		}
		v, ok := mounts[filepath.Dir(a.APIKeyFile)]
		if !ok || v.Secret == nil {
			t.Errorf("accounts[%d].api_key_file %s is not in a mounted Secret", i, a.APIKeyFile)
			continue
		}
		if secret == nil || v.Secret.SecretName != secret.Name {
			t.Errorf("the Deployment mounts Secret %s, secret.example.yaml does not define it", v.Secret.SecretName)
		} else if _, ok := secret.StringData[filepath.Base(a.APIKeyFile)]; !ok {
			t.Errorf("secret.example.yaml has no key %s", filepath.Base(a.APIKeyFile))
		}
	}
}

func TestServiceAndServiceMonitor(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	dep, _ := m["deployment.yaml"].(*appsv1.Deployment)
	svc, _ := m["service.yaml"].(*corev1.Service)
	sm, _ := m["servicemonitor.yaml"].(*monitoringv1.ServiceMonitor)
	if dep == nil || svc == nil || sm == nil {
		t.Fatal("Deployment, Service or ServiceMonitor missing")
	}
	podLabels := dep.Spec.Template.Labels
	if !isSubset(svc.Spec.Selector, podLabels) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, podLabels)
	}
	if !isSubset(dep.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("Deployment selector %v does not select its pods %v", dep.Spec.Selector.MatchLabels, podLabels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != exporterPort ||
		svc.Spec.Ports[0].TargetPort != intstr.FromString(dep.Spec.Template.Spec.Containers[0].Ports[0].Name) {
		t.Errorf("Service ports %+v: want %d to the container's named port", svc.Spec.Ports, exporterPort)
	}
	if !isSubset(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the Service %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	// The alerts select job="upstash_backup_exporter".
	if got := svc.Labels[sm.Spec.JobLabel]; got != exporterJob {
		t.Errorf("ServiceMonitor jobLabel %q gives job %q, the alerts expect %q", sm.Spec.JobLabel, got, exporterJob)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != svc.Spec.Ports[0].Name || ep.Path != "/metrics" {
		t.Errorf("endpoint port %q path %q, want %q /metrics", ep.Port, ep.Path, svc.Spec.Ports[0].Name)
	}
	interval, err1 := time.ParseDuration(string(ep.Interval))
	timeout, err2 := time.ParseDuration(string(ep.ScrapeTimeout))
	if err := errors.Join(err1, err2); err != nil || timeout > interval || timeout < 10*time.Second {
		t.Errorf("interval %s, scrapeTimeout %s: want a timeout of at least 10s, not over the interval (%v)", ep.Interval, ep.ScrapeTimeout, err)
	}
}

// prometheusRuleHeader is the part of the PrometheusRule above its groups.
const prometheusRuleHeader = `# Generated from deploy/prometheus/alerts.yml by
#   (cd deploy && go test -run TestPrometheusRule -update)
# Do not edit: change alerts.yml and regenerate. The Prometheus Operator may
# select rules by a label (kube-prometheus-stack: release=<its release>);
# add it under metadata.labels.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: upstash-backup-exporter
  labels:
    app.kubernetes.io/name: upstash_backup_exporter
spec:
`

// generatePrometheusRule embeds alerts.yml, from its groups key on, in a
// PrometheusRule: the same text, so the same comments and layout.
func generatePrometheusRule(alerts []byte) ([]byte, error) {
	i := bytes.Index(alerts, []byte("\ngroups:"))
	if i < 0 {
		return nil, fmt.Errorf("%s: no top-level groups key", alertsFile)
	}
	var b bytes.Buffer
	b.WriteString(prometheusRuleHeader)
	for line := range strings.Lines(string(alerts[i+1:])) {
		if strings.TrimSpace(line) == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString("  " + line)
	}
	return b.Bytes(), nil
}

func TestPrometheusRule(t *testing.T) {
	alerts, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	want, err := generatePrometheusRule(alerts)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(prometheusRuleFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(prometheusRuleFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not generated from %s: run (cd deploy && go test -run TestPrometheusRule -update)", prometheusRuleFile, alertsFile)
	}

	// Whatever the text, the decoded groups must be the same.
	var pr monitoringv1.PrometheusRule
	readStrict(t, prometheusRuleFile, &pr)
	var rf ruleFile
	readStrict(t, alertsFile, &rf)
	if !reflect.DeepEqual(pr.Spec.Groups, rf.Groups) {
		t.Errorf("%s spec.groups differ from the groups of %s", prometheusRuleFile, alertsFile)
	}
}

func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

func isTrue(b *bool) bool { return b != nil && *b }

func isSubset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
