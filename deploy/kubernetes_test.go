package deploy

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	k8sDir             = "kubernetes"
	prometheusRuleFile = "kubernetes/prometheusrule.yaml"
	exporterPort       = 10035
	// k8sRecordingRulesFile holds the recording rules, when there are any:
	// their groups come before those of alerts.yml wherever both are loaded.
	k8sRecordingRulesFile = "prometheus/rules.yml"
	// k8sImage is the image both the Helm chart and the plain manifests run,
	// without its tag.
	k8sImage = "ghcr.io/upstash-backup-exporter/upstash_backup_exporter"
)

// k8sKustomization is the part of a kustomization.yaml used here; strict
// decoding refuses any other field.
type k8sKustomization struct {
	metav1.TypeMeta `json:",inline"`
	Resources       []string `json:"resources"`
	Images          []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images"`
}

// manifests maps each file of kubernetes/ to the API type it must decode
// into strictly; a file not listed here fails the test.
func manifests() map[string]func() any {
	return map[string]func() any{
		"configmap.yaml":      func() any { return &corev1.ConfigMap{} },
		"deployment.yaml":     func() any { return &appsv1.Deployment{} },
		"kustomization.yaml":  func() any { return &k8sKustomization{} },
		"networkpolicy.yaml":  func() any { return &networkingv1.NetworkPolicy{} },
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
	reflect.TypeFor[*corev1.ServiceAccount]():       {APIVersion: "v1", Kind: "ServiceAccount"},
	reflect.TypeFor[*appsv1.Deployment]():           {APIVersion: "apps/v1", Kind: "Deployment"},
	reflect.TypeFor[*appsv1.StatefulSet]():          {APIVersion: "apps/v1", Kind: "StatefulSet"},
	reflect.TypeFor[*networkingv1.NetworkPolicy]():  {APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
	reflect.TypeFor[*k8sKustomization]():            {APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization"},
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

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	loadManifests(t)
}

// TestKubernetesStrictDecodingCatchesTypos makes sure the decoding above would fail on
// the mistake it is there for.
func TestKubernetesStrictDecodingCatchesTypos(t *testing.T) {
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

// checkDeployment checks what every Deployment of the exporter must have,
// whether from kubernetes/ or from the Helm chart: one replica, and the pod
// of checkPodSpec. where names the Deployment in messages.
func checkDeployment(t *testing.T, where string, dep *appsv1.Deployment) {
	t.Helper()
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 1 {
		t.Errorf("%s: want exactly 1 replica: each would call the Upstash API on every scrape", where)
	}
	checkPodSpec(t, where, dep.Spec.Template.Spec)
}

// checkPodSpec checks the pod of the exporter, of a Deployment or of the
// Helm chart's sharding StatefulSet: the hardening, the resources, the
// port, the probes and a pinned image.
func checkPodSpec(t *testing.T, where string, pod corev1.PodSpec) {
	t.Helper()
	if psc := pod.SecurityContext; psc == nil || !isTrue(psc.RunAsNonRoot) || psc.RunAsUser == nil || *psc.RunAsUser != 65534 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext %+v: want runAsNonRoot, runAsUser 65534 (the image's) and the RuntimeDefault seccomp profile", where, psc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false: the exporter never talks to the Kubernetes API", where)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", where, len(pod.Containers))
	}
	c := pod.Containers[0]
	if sc := c.SecurityContext; sc == nil {
		t.Errorf("%s: container has no securityContext", where)
	} else {
		if !isTrue(sc.ReadOnlyRootFilesystem) {
			t.Errorf("%s: readOnlyRootFilesystem must be true", where)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation must be false", where)
		}
		if !isTrue(sc.RunAsNonRoot) || sc.RunAsUser == nil || *sc.RunAsUser != 65534 {
			t.Errorf("%s: container runAsNonRoot %v runAsUser %v: want true and 65534", where, sc.RunAsNonRoot, sc.RunAsUser)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", where)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: capabilities %+v: want drop [ALL] and nothing added", where, sc.Capabilities)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: container seccompProfile %+v: want RuntimeDefault", where, sc.SeccompProfile)
		}
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		req, ok1 := c.Resources.Requests[res]
		limit, ok2 := c.Resources.Limits[res]
		switch {
		case !ok1 || !ok2:
			t.Errorf("%s: want a %s request and limit, have %v and %v", where, res, c.Resources.Requests, c.Resources.Limits)
		case req.Sign() <= 0 || req.Cmp(limit) > 0:
			t.Errorf("%s: %s request %s, limit %s: want a positive request not over the limit", where, res, req.String(), limit.String())
		}
	}
	if err := imagePinError(c.Image); err != nil {
		t.Errorf("%s: %v", where, err)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != exporterPort || c.Ports[0].Name != "http" {
		t.Fatalf("%s: ports %+v, want one named http on %d", where, c.Ports, exporterPort)
	}
	checkProbe := func(kind string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: %s probe: want an HTTP GET of %s", where, kind, path)
			return
		}
		if p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromString("http") {
			t.Errorf("%s: %s probe: GET %s on %s, want %s on http", where, kind, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
		}
	}
	checkProbe("liveness", c.LivenessProbe, "/-/healthy")
	checkProbe("readiness", c.ReadinessProbe, "/-/ready")
	for _, vm := range c.VolumeMounts {
		if !vm.ReadOnly {
			t.Errorf("%s: volume %s is mounted writable", where, vm.Name)
		}
	}
}

// imagePinError refuses an image without a version, or with a moving one:
// the pod would then run whatever the registry holds when it starts.
func imagePinError(image string) error {
	if _, digest, ok := strings.Cut(image, "@"); ok {
		if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
			return fmt.Errorf("image %s: the digest is not sha256:<64 hex digits>", image)
		}
		return nil
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return fmt.Errorf("image %s has no tag: pin a version", image)
	}
	if tag := image[i+1:]; !regexp.MustCompile(`^v\d+\.\d+\.\d+`).MatchString(tag) {
		return fmt.Errorf("image %s: want a version tag such as v0.1.0, not %q", image, tag)
	}
	return nil
}

func TestKubernetesImagePinError(t *testing.T) {
	t.Parallel()
	for image, pinned := range map[string]bool{
		k8sImage + ":v0.1.0":                             true,
		k8sImage + ":v0.1.0-rc.1":                        true,
		k8sImage + ":latest":                             false,
		k8sImage:                                         false,
		"registry:5000/exporter":                         false,
		"registry:5000/exporter:main":                    false,
		k8sImage + "@sha256:" + strings.Repeat("ab", 32): true,
		k8sImage + "@sha256:abc":                         false,
	} {
		if err := imagePinError(image); (err == nil) != pinned {
			t.Errorf("imagePinError(%s) = %v, want pinned %v", image, err, pinned)
		}
	}
}

func TestKubernetesDeploymentHardening(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	dep, ok := m["deployment.yaml"].(*appsv1.Deployment)
	if !ok {
		t.Fatal("no Deployment")
	}
	checkDeployment(t, "deployment.yaml", dep)
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]

	// The configuration file named by --config.file comes from the
	// ConfigMap, and the key file it names from the Secret.
	mounts := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name {
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

// TestKubernetesKustomization checks that `kubectl apply -k kubernetes` applies every
// manifest but the Secret example, and pins the image the Deployment names.
func TestKubernetesKustomization(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	k, _ := m["kustomization.yaml"].(*k8sKustomization)
	dep, _ := m["deployment.yaml"].(*appsv1.Deployment)
	if k == nil || dep == nil {
		t.Fatal("kustomization.yaml or deployment.yaml missing")
	}
	var want []string
	for name := range manifests() {
		if name != "kustomization.yaml" && name != "secret.example.yaml" {
			want = append(want, name)
		}
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %v, want %v (every manifest but the Secret example)", k.Resources, want)
	}
	for _, r := range k.Resources {
		if _, ok := m[r]; !ok {
			t.Errorf("kustomization resource %s is not a manifest of %s", r, k8sDir)
		}
	}
	if len(k.Images) != 1 {
		t.Fatalf("kustomization images %+v: want the exporter's only", k.Images)
	}
	img := k.Images[0]
	image := dep.Spec.Template.Spec.Containers[0].Image
	if !strings.HasPrefix(image, img.Name+":") && !strings.HasPrefix(image, img.Name+"@") {
		t.Errorf("kustomization images[0].name %s does not match the Deployment's image %s", img.Name, image)
	}
	pinned := cmp.Or(img.NewName, img.Name) + ":" + img.NewTag
	if img.Digest != "" {
		pinned = cmp.Or(img.NewName, img.Name) + "@" + img.Digest
	}
	if pinned != image {
		t.Errorf("kustomization pins %s, the Deployment names %s: keep them the same", pinned, image)
	}
	if err := imagePinError(pinned); err != nil {
		t.Errorf("kustomization.yaml: %v", err)
	}
	if want := k8sImage + ":v" + chartAppVersion(t); pinned != want {
		t.Errorf("kustomization pins %s, want %s (the chart's appVersion)", pinned, want)
	}
}

// checkNetworkPolicy checks that a NetworkPolicy selects the pods, lets
// them resolve names and reach HTTPS, and lets only selected peers reach the
// metrics port.
func checkNetworkPolicy(t *testing.T, where string, np *networkingv1.NetworkPolicy, podLabels map[string]string) {
	t.Helper()
	if len(np.Spec.PodSelector.MatchLabels) == 0 || !isSubset(np.Spec.PodSelector.MatchLabels, podLabels) {
		t.Errorf("%s: podSelector %v does not select the pods %v", where, np.Spec.PodSelector.MatchLabels, podLabels)
	}
	types := slices.Sorted(slices.Values(np.Spec.PolicyTypes))
	if !slices.Equal(types, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress, networkingv1.PolicyTypeIngress}) {
		t.Errorf("%s: policyTypes %v, want Ingress and Egress", where, np.Spec.PolicyTypes)
	}
	portOf := func(p networkingv1.NetworkPolicyPort) string {
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if p.Port == nil {
			return string(proto) + "/*"
		}
		return string(proto) + "/" + p.Port.String()
	}
	egress := map[string]bool{}
	for i, r := range np.Spec.Egress {
		if len(r.Ports) == 0 {
			t.Errorf("%s: egress[%d] allows every port", where, i)
		}
		for _, p := range r.Ports {
			egress[portOf(p)] = true
		}
	}
	for _, want := range []string{"UDP/53", "TCP/53", "TCP/443"} {
		if !egress[want] {
			t.Errorf("%s: egress allows %v, want %s among them", where, slices.Sorted(maps.Keys(egress)), want)
		}
	}
	if len(np.Spec.Ingress) == 0 {
		t.Fatalf("%s: no ingress rule: Prometheus could not scrape", where)
	}
	scrape := np.Spec.Ingress[0]
	if len(scrape.Ports) != 1 || (portOf(scrape.Ports[0]) != "TCP/http" && portOf(scrape.Ports[0]) != fmt.Sprintf("TCP/%d", exporterPort)) {
		t.Errorf("%s: ingress[0] ports %v, want the metrics port only", where, scrape.Ports)
	}
	if len(scrape.From) == 0 {
		t.Errorf("%s: ingress[0] admits every peer, want Prometheus only", where)
	}
	for i, r := range np.Spec.Ingress {
		if len(r.Ports) == 0 {
			t.Errorf("%s: ingress[%d] opens every port", where, i)
		}
	}
}

func TestKubernetesNetworkPolicy(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	np, _ := m["networkpolicy.yaml"].(*networkingv1.NetworkPolicy)
	dep, _ := m["deployment.yaml"].(*appsv1.Deployment)
	if np == nil || dep == nil {
		t.Fatal("networkpolicy.yaml or deployment.yaml missing")
	}
	checkNetworkPolicy(t, "networkpolicy.yaml", np, dep.Spec.Template.Labels)
	peer := np.Spec.Ingress[0].From[0]
	if peer.NamespaceSelector == nil || peer.PodSelector == nil || len(peer.PodSelector.MatchLabels) == 0 {
		t.Errorf("ingress peer %+v: want Prometheus' pods in Prometheus' namespace", peer)
	}
}

func TestKubernetesServiceAndServiceMonitor(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	dep, _ := m["deployment.yaml"].(*appsv1.Deployment)
	svc, _ := m["service.yaml"].(*corev1.Service)
	sm, _ := m["servicemonitor.yaml"].(*monitoringv1.ServiceMonitor)
	if dep == nil || svc == nil || sm == nil {
		t.Fatal("Deployment, Service or ServiceMonitor missing")
	}
	checkServiceAndMonitor(t, k8sDir, dep, svc, sm)
}

// checkServiceAndMonitor checks that the Service selects the pods and the
// ServiceMonitor the Service, under the job name the alerts select.
func checkServiceAndMonitor(t *testing.T, where string, dep *appsv1.Deployment, svc *corev1.Service, sm *monitoringv1.ServiceMonitor) {
	t.Helper()
	podLabels := dep.Spec.Template.Labels
	if !isSubset(svc.Spec.Selector, podLabels) || len(svc.Spec.Selector) == 0 {
		t.Errorf("%s: Service selector %v does not select the pods %v", where, svc.Spec.Selector, podLabels)
	}
	if !isSubset(dep.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("%s: Deployment selector %v does not select its pods %v", where, dep.Spec.Selector.MatchLabels, podLabels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != exporterPort ||
		svc.Spec.Ports[0].TargetPort != intstr.FromString(dep.Spec.Template.Spec.Containers[0].Ports[0].Name) {
		t.Errorf("%s: Service ports %+v: want %d to the container's named port", where, svc.Spec.Ports, exporterPort)
	}
	if sm == nil {
		return
	}
	if !isSubset(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("%s: ServiceMonitor selector %v does not select the Service %v", where, sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if ns := sm.Spec.NamespaceSelector.MatchNames; len(ns) > 0 && !slices.Contains(ns, svc.Namespace) {
		t.Errorf("%s: ServiceMonitor looks in namespaces %v, the Service is in %q", where, ns, svc.Namespace)
	}
	// The alerts select job="upstash_backup_exporter".
	if got := svc.Labels[sm.Spec.JobLabel]; got != exporterJob {
		t.Errorf("%s: ServiceMonitor jobLabel %q gives job %q, the alerts expect %q", where, sm.Spec.JobLabel, got, exporterJob)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("%s: %d endpoints, want 1", where, len(sm.Spec.Endpoints))
	}
	ep := sm.Spec.Endpoints[0]
	if ep.Port != svc.Spec.Ports[0].Name || ep.Path != "/metrics" {
		t.Errorf("%s: endpoint port %q path %q, want %q /metrics", where, ep.Port, ep.Path, svc.Spec.Ports[0].Name)
	}
	interval, err1 := time.ParseDuration(string(ep.Interval))
	timeout, err2 := time.ParseDuration(string(ep.ScrapeTimeout))
	if err := errors.Join(err1, err2); err != nil || timeout > interval || timeout < 10*time.Second {
		t.Errorf("%s: interval %s, scrapeTimeout %s: want a timeout of at least 10s, not over the interval (%v)", where, ep.Interval, ep.ScrapeTimeout, err)
	}
}

// k8sWantRuleGroups returns the rule groups a PrometheusRule must carry:
// those of the recording rules file, when there is one, followed by those
// of alerts.yml.
func k8sWantRuleGroups(t *testing.T) []monitoringv1.RuleGroup {
	t.Helper()
	var groups []monitoringv1.RuleGroup
	if _, err := os.Stat(k8sRecordingRulesFile); err == nil {
		var rec ruleFile
		readStrict(t, k8sRecordingRulesFile, &rec)
		groups = append(groups, rec.Groups...)
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var alerts ruleFile
	readStrict(t, alertsFile, &alerts)
	if len(alerts.Groups) == 0 {
		t.Fatalf("%s: no groups", alertsFile)
	}
	return append(groups, alerts.Groups...)
}

// TestKubernetesPrometheusRule checks that the PrometheusRule carries the same rules
// as the rule files: compared decoded, so comments and layout may differ.
func TestKubernetesPrometheusRule(t *testing.T) {
	t.Parallel()
	var pr monitoringv1.PrometheusRule
	readStrict(t, prometheusRuleFile, &pr)
	if want := k8sWantRuleGroups(t); !reflect.DeepEqual(pr.Spec.Groups, want) {
		t.Errorf("%s spec.groups differ from the groups of %s and %s: regenerate it", prometheusRuleFile, k8sRecordingRulesFile, alertsFile)
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
