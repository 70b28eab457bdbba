package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir       = "helm/upstash-backup-exporter"
	chartRulesFile = chartDir + "/files/prometheus-rules.yaml"
	// chartNamespace is the namespace the chart is rendered into.
	chartNamespace = "monitoring"
	// chartKubeVersion is passed to helm: a helm built with go install
	// assumes Kubernetes v1.20, below the chart's kubeVersion.
	chartKubeVersion = "1.30.0"
	// chartKeyDir is where the pod finds the API keys.
	chartKeyDir = "/run/secrets/upstash"
)

// chartKinds maps each kind the chart may render to its API type.
var chartKinds = map[string]func() any{
	"ConfigMap":      func() any { return &corev1.ConfigMap{} },
	"Secret":         func() any { return &corev1.Secret{} },
	"Service":        func() any { return &corev1.Service{} },
	"ServiceAccount": func() any { return &corev1.ServiceAccount{} },
	"Deployment":     func() any { return &appsv1.Deployment{} },
	"StatefulSet":    func() any { return &appsv1.StatefulSet{} },
	"NetworkPolicy":  func() any { return &networkingv1.NetworkPolicy{} },
	"ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
}

// chartCIFiles are the values files of the chart's ci/ folder, each with
// the kinds it must render.
var chartCIFiles = map[string][]string{
	"default-values.yaml":         {"ConfigMap", "Deployment", "Secret", "Service", "ServiceAccount"},
	"existing-secret-values.yaml": {"ConfigMap", "Deployment", "Service", "ServiceAccount"},
	"digest-values.yaml":          {"ConfigMap", "Deployment", "Secret", "Service", "ServiceAccount"},
	"all-enabled-values.yaml": {"ConfigMap", "Deployment", "NetworkPolicy", "PrometheusRule",
		"Secret", "Service", "ServiceAccount", "ServiceMonitor"},
	// No Deployment: the StatefulSet replaces it.
	"sharding-values.yaml": {"ConfigMap", "NetworkPolicy", "Secret", "Service", "ServiceAccount",
		"ServiceMonitor", "StatefulSet"},
}

// chartMetadata is Chart.yaml, decoded strictly.
type chartMetadata struct {
	APIVersion  string            `json:"apiVersion"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Type        string            `json:"type"`
	Version     string            `json:"version"`
	AppVersion  string            `json:"appVersion"`
	KubeVersion string            `json:"kubeVersion"`
	Home        string            `json:"home"`
	Sources     []string          `json:"sources"`
	Keywords    []string          `json:"keywords"`
	Annotations map[string]string `json:"annotations"`
	Maintainers []struct {
		Name  string `json:"name"`
		Email string `json:"email,omitempty"`
		URL   string `json:"url,omitempty"`
	} `json:"maintainers"`
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	var c chartMetadata
	readStrict(t, filepath.Join(chartDir, "Chart.yaml"), &c)
	return c.AppVersion
}

func TestHelmChartMetadata(t *testing.T) {
	t.Parallel()
	var c chartMetadata
	readStrict(t, filepath.Join(chartDir, "Chart.yaml"), &c)
	if c.APIVersion != "v2" || c.Name != filepath.Base(chartDir) || c.Type != "application" {
		t.Errorf("Chart.yaml: apiVersion %q name %q type %q, want v2 %s application", c.APIVersion, c.Name, c.Type, filepath.Base(chartDir))
	}
	if c.Version != "0.1.0" || c.AppVersion != "0.1.0" {
		t.Errorf("Chart.yaml: version %q appVersion %q, want 0.1.0 and 0.1.0", c.Version, c.AppVersion)
	}
	if c.KubeVersion == "" || c.Home == "" || len(c.Sources) == 0 || len(c.Maintainers) == 0 || c.Annotations["artifacthub.io/license"] == "" {
		t.Errorf("Chart.yaml: want kubeVersion, home, sources, maintainers and a license annotation: %+v", c)
	}
}

// chartObject is one rendered object, decoded strictly into its API type.
type chartObject struct {
	kind, name string
	obj        any
}

// decodeRendered splits helm template's output into its documents and
// decodes each strictly into the API type of its kind: an unknown kind, an
// unknown or misspelt field or a duplicate key is an error.
func decodeRendered(out []byte) ([]chartObject, error) {
	var objs []chartObject
	for doc := range strings.SplitSeq(string(out), "\n---\n") {
		doc = strings.TrimPrefix(doc, "---\n")
		var head struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, fmt.Errorf("%s: %w", firstLine(doc), err)
		}
		if head.Kind == "" {
			if strings.TrimSpace(stripComments(doc)) != "" {
				return nil, fmt.Errorf("%s: a document without a kind", firstLine(doc))
			}
			continue
		}
		newObj, ok := chartKinds[head.Kind]
		if !ok {
			return nil, fmt.Errorf("%s: kind %s is not expected from the chart; add it to chartKinds", firstLine(doc), head.Kind)
		}
		obj := newObj()
		if err := decodeStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("%s %s: %w", head.Kind, head.Metadata.Name, err)
		}
		tm := reflect.ValueOf(obj).Elem().FieldByName("TypeMeta").Interface().(metav1.TypeMeta)
		if want := wantTypeMeta[reflect.TypeOf(obj)]; tm != want {
			return nil, fmt.Errorf("%s %s: apiVersion %s, want %s", head.Kind, head.Metadata.Name, tm.APIVersion, want.APIVersion)
		}
		objs = append(objs, chartObject{kind: head.Kind, name: head.Metadata.Name, obj: obj})
	}
	return objs, nil
}

func firstLine(doc string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(doc), "\n")
	return line
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// helmTemplate runs helm template on the chart with a values file of ci/
// (none when empty) and --set arguments.
func helmTemplate(t *testing.T, valuesFile string, set ...string) ([]byte, error) {
	t.Helper()
	args := []string{"template", "ci", chartDir, "--namespace", chartNamespace, "--kube-version", chartKubeVersion}
	if valuesFile != "" {
		args = append(args, "--values", filepath.Join(chartDir, "ci", valuesFile))
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	cmd := exec.CommandContext(t.Context(), requireHelm(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
}

// requireHelm is requireTool for helm, which no Debian package provides.
func requireHelm(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("helm"); err != nil {
		t.Log("helm is missing: scripts/setup.sh builds it (go install helm.sh/helm/v3/cmd/helm@v3.22.0)")
	}
	return requireTool(t, "helm")
}

// chartRender is the objects of one rendering of the chart, by kind.
type chartRender map[string]any

func renderChart(t *testing.T, valuesFile string, set ...string) chartRender {
	t.Helper()
	out, err := helmTemplate(t, valuesFile, set...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeRendered(out)
	if err != nil {
		t.Fatalf("%s: %v", valuesFile, err)
	}
	r := chartRender{}
	for _, o := range objs {
		if _, dup := r[o.kind]; dup {
			t.Fatalf("%s: two objects of kind %s", valuesFile, o.kind)
		}
		if ns := reflect.ValueOf(o.obj).Elem().FieldByName("ObjectMeta").Interface().(metav1.ObjectMeta).Namespace; ns != chartNamespace {
			t.Errorf("%s: %s %s in namespace %q, want %q", valuesFile, o.kind, o.name, ns, chartNamespace)
		}
		r[o.kind] = o.obj
	}
	return r
}

func (r chartRender) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d, ok := r["Deployment"].(*appsv1.Deployment)
	if !ok {
		t.Fatal("no Deployment rendered")
	}
	return d
}

// statefulSet returns the sharding StatefulSet, nil when there is none.
func (r chartRender) statefulSet() *appsv1.StatefulSet {
	sts, _ := r["StatefulSet"].(*appsv1.StatefulSet)
	return sts
}

// workload returns the Deployment, or the sharding StatefulSet as a
// Deployment of the same selector and pod template, for the checks the two
// share.
func (r chartRender) workload(t *testing.T) *appsv1.Deployment {
	t.Helper()
	if sts := r.statefulSet(); sts != nil {
		return &appsv1.Deployment{
			ObjectMeta: sts.ObjectMeta,
			Spec:       appsv1.DeploymentSpec{Replicas: sts.Spec.Replicas, Selector: sts.Spec.Selector, Template: sts.Spec.Template},
		}
	}
	return r.deployment(t)
}

func (r chartRender) configMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	cm, ok := r["ConfigMap"].(*corev1.ConfigMap)
	if !ok {
		t.Fatal("no ConfigMap rendered")
	}
	return cm
}

// chartConfig is the part of the exporter's configuration the chart wires.
type chartConfig struct {
	Accounts []struct {
		Name       string `json:"name"`
		APIKeyFile string `json:"api_key_file"`
		APIKey     string `json:"api_key"`
	} `json:"accounts"`
}

// TestHelmChartRenders renders the chart with each values file of ci/ and
// checks every object.
func TestHelmChartRenders(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := chartCIFiles[filepath.Base(f)]; !ok {
			t.Errorf("%s: not in chartCIFiles; add it with the kinds it renders", f)
		}
	}
	for file, kinds := range chartCIFiles {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			r := renderChart(t, file)
			got := slices.Sorted(func(yield func(string) bool) {
				for k := range r {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(got, kinds) {
				t.Errorf("rendered %v, want %v", got, kinds)
			}
			checkChartRender(t, file, r)
		})
	}
}

func checkChartRender(t *testing.T, file string, r chartRender) {
	t.Helper()
	var values struct {
		Image struct {
			Digest string `json:"digest"`
		} `json:"image"`
		ExistingSecret struct {
			Name string `json:"name"`
			Key  string `json:"key"`
		} `json:"existingSecret"`
		Replicas *int `json:"replicas"`
		Sharding struct {
			Enabled bool `json:"enabled"`
		} `json:"sharding"`
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "ci", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	svc, _ := r["Service"].(*corev1.Service)
	if svc == nil {
		t.Fatal("no Service rendered")
	}
	var dep *appsv1.Deployment
	if values.Sharding.Enabled {
		if _, ok := r["Deployment"]; ok {
			t.Error("sharding.enabled renders a Deployment besides the StatefulSet")
		}
		sts := r.statefulSet()
		if sts == nil {
			t.Fatal("sharding.enabled renders no StatefulSet")
		}
		replicas := 1
		if values.Replicas != nil {
			replicas = *values.Replicas
		}
		checkShardedStatefulSet(t, file, sts, replicas, svc)
		dep = r.workload(t)
	} else {
		if sts := r.statefulSet(); sts != nil {
			t.Errorf("StatefulSet %s rendered without sharding.enabled", sts.Name)
		}
		dep = r.deployment(t)
		checkDeployment(t, file, dep)
		if svc.Spec.ClusterIP == corev1.ClusterIPNone {
			t.Error("the Service is headless without sharding.enabled")
		}
	}
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	wantImage := k8sImage + ":v" + chartAppVersion(t)
	if values.Image.Digest != "" {
		wantImage = k8sImage + "@" + values.Image.Digest
	}
	if c.Image != wantImage {
		t.Errorf("image %s, want %s", c.Image, wantImage)
	}
	for _, k := range []string{"checksum/config", "checksum/secret"} {
		if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(dep.Spec.Template.Annotations[k]) {
			t.Errorf("pod annotation %s = %q, want a sha256", k, dep.Spec.Template.Annotations[k])
		}
	}
	if sa, ok := r["ServiceAccount"].(*corev1.ServiceAccount); ok {
		if pod.ServiceAccountName != sa.Name {
			t.Errorf("pod runs as ServiceAccount %q, the chart creates %q", pod.ServiceAccountName, sa.Name)
		}
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Error("ServiceAccount: automountServiceAccountToken must be false")
		}
	}

	// --config.file is the ConfigMap's config.yml; each api_key_file of it
	// a key of the mounted Secret.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name {
				vols[vm.MountPath] = v
			}
		}
	}
	configPath := flagValue(c.Args, "--config.file")
	cmVol, ok := vols[filepath.Dir(configPath)]
	cm := r.configMap(t)
	if !ok || cmVol.ConfigMap == nil || cmVol.ConfigMap.Name != cm.Name {
		t.Fatalf("--config.file=%s is not in the mounted ConfigMap %s", configPath, cm.Name)
	}
	var cfg chartConfig
	if err := yaml.Unmarshal([]byte(cm.Data[filepath.Base(configPath)]), &cfg); err != nil || len(cfg.Accounts) == 0 {
		t.Fatalf("ConfigMap %s: %v, %d accounts", filepath.Base(configPath), err, len(cfg.Accounts))
	}
	keyVol, ok := vols[chartKeyDir]
	if !ok || keyVol.Secret == nil {
		t.Fatalf("no Secret mounted at %s", chartKeyDir)
	}
	// The files the pod will find in chartKeyDir.
	keyFiles := map[string]bool{}
	if secret, ok := r["Secret"].(*corev1.Secret); ok {
		if values.ExistingSecret.Name != "" {
			t.Errorf("existingSecret.name is set and the chart still creates Secret %s", secret.Name)
		}
		if keyVol.Secret.SecretName != secret.Name {
			t.Errorf("the pod mounts Secret %s, the chart creates %s", keyVol.Secret.SecretName, secret.Name)
		}
		for k, v := range secret.Data {
			keyFiles[k] = true
			if len(bytes.TrimSpace(v)) == 0 {
				t.Errorf("Secret key %s is empty", k)
			}
		}
	} else {
		if keyVol.Secret.SecretName != values.ExistingSecret.Name {
			t.Errorf("the pod mounts Secret %s, want existingSecret.name %s", keyVol.Secret.SecretName, values.ExistingSecret.Name)
		}
		var want []corev1.KeyToPath
		if values.ExistingSecret.Key != "" {
			want = []corev1.KeyToPath{{Key: values.ExistingSecret.Key, Path: "api-key"}}
		}
		if !reflect.DeepEqual(keyVol.Secret.Items, want) {
			t.Errorf("Secret items %+v, want %+v", keyVol.Secret.Items, want)
		}
		if values.ExistingSecret.Key != "" {
			keyFiles["api-key"] = true
		}
	}
	for _, a := range cfg.Accounts {
		if a.APIKey != "" {
			t.Errorf("account %s: api_key in a ConfigMap; use api_key_file", a.Name)
		}
		// Without existingSecret.key, the files are the keys of a Secret
		// the chart does not see.
		known := values.ExistingSecret.Name == "" || values.ExistingSecret.Key != ""
		if filepath.Dir(a.APIKeyFile) != chartKeyDir || (known && !keyFiles[filepath.Base(a.APIKeyFile)]) {
			t.Errorf("account %s: api_key_file %s is none of the Secret's files %v in %s", a.Name, a.APIKeyFile, keyFiles, chartKeyDir)
		}
	}

	sm, _ := r["ServiceMonitor"].(*monitoringv1.ServiceMonitor)
	checkServiceAndMonitor(t, file, dep, svc, sm)
	if np, ok := r["NetworkPolicy"].(*networkingv1.NetworkPolicy); ok {
		checkNetworkPolicy(t, file, np, dep.Spec.Template.Labels)
	}
	if pr, ok := r["PrometheusRule"].(*monitoringv1.PrometheusRule); ok {
		if !reflect.DeepEqual(pr.Spec.Groups, k8sWantRuleGroups(t)) {
			t.Errorf("PrometheusRule spec.groups differ from the groups of %s and %s", k8sRecordingRulesFile, alertsFile)
		}
	}
}

// checkShardedStatefulSet checks the StatefulSet of sharding.enabled:
// replicas pods started in parallel, each told the shard count (the
// replicas) and its own name, whose ordinal is its shard index, from the
// downward API; and the headless Service that governs it, through which
// each pod is a scrape target of its own.
func checkShardedStatefulSet(t *testing.T, where string, sts *appsv1.StatefulSet, replicas int, svc *corev1.Service) {
	t.Helper()
	checkPodSpec(t, where, sts.Spec.Template.Spec)
	if sts.Spec.Replicas == nil || int(*sts.Spec.Replicas) != replicas {
		t.Errorf("%s: StatefulSet replicas %v, want %d (values replicas)", where, show(sts.Spec.Replicas), replicas)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("%s: podManagementPolicy %q, want Parallel: the shards do not wait for each other", where, sts.Spec.PodManagementPolicy)
	}
	if sts.Spec.Selector == nil || !isSubset(sts.Spec.Selector.MatchLabels, sts.Spec.Template.Labels) {
		t.Errorf("%s: StatefulSet selector %v does not select its pods %v", where, sts.Spec.Selector, sts.Spec.Template.Labels)
	}
	if sts.Spec.ServiceName != svc.Name || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("%s: StatefulSet serviceName %q, Service %s with clusterIP %q: want the chart's Service, headless", where, sts.Spec.ServiceName, svc.Name, svc.Spec.ClusterIP)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	if got := flagValue(c.Args, "--shard.count"); got != strconv.Itoa(replicas) {
		t.Errorf("%s: --shard.count=%q, want the replicas, %d", where, got, replicas)
	}
	if got := flagValue(c.Args, "--shard.pod-name"); got != "$(POD_NAME)" {
		t.Errorf("%s: --shard.pod-name=%q, want $(POD_NAME)", where, got)
	}
	if got := flagValue(c.Args, "--shard.index"); got != "" {
		t.Errorf("%s: --shard.index=%s: the pod name gives it", where, got)
	}
	var podName []corev1.EnvVar
	for _, e := range c.Env {
		if e.Name == "POD_NAME" {
			podName = append(podName, e)
		}
	}
	want := []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	if !reflect.DeepEqual(podName, want) {
		t.Errorf("%s: POD_NAME %s, want once, from the downward API's metadata.name", where, show(podName))
	}
}

// TestHelmShardingSharesThePodTemplate checks that sharding changes the
// pod in the sharding flags and POD_NAME only: the same image, security
// context, probes, resources and volumes as the Deployment.
func TestHelmShardingSharesThePodTemplate(t *testing.T) {
	t.Parallel()
	sts := renderChart(t, "sharding-values.yaml").statefulSet()
	dep := renderChart(t, "sharding-values.yaml", "sharding.enabled=false", "replicas=1").deployment(t)
	if sts == nil {
		t.Fatal("no StatefulSet rendered")
	}
	tmpl := *sts.Spec.Template.DeepCopy()
	c := &tmpl.Spec.Containers[0]
	c.Args = slices.DeleteFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--shard.") })
	c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "POD_NAME" })
	if len(c.Env) == 0 {
		c.Env = nil
	}
	if !reflect.DeepEqual(tmpl, dep.Spec.Template) {
		t.Errorf("the StatefulSet's pod template, without the sharding flags and POD_NAME, differs from the Deployment's:%s\nDeployment:%s", show(tmpl), show(dep.Spec.Template))
	}
	// Replicas follow the value, and so does --shard.count.
	sts = renderChart(t, "sharding-values.yaml", "replicas=5").statefulSet()
	if got := flagValue(sts.Spec.Template.Spec.Containers[0].Args, "--shard.count"); *sts.Spec.Replicas != 5 || got != "5" {
		t.Errorf("replicas=5: StatefulSet replicas %d, --shard.count=%s", *sts.Spec.Replicas, got)
	}
}

// TestHelmRulesFile checks the rules the chart ships against the rule files
// they are generated from, so a stale copy is reported as such.
func TestHelmRulesFile(t *testing.T) {
	t.Parallel()
	var rf ruleFile
	readStrict(t, chartRulesFile, &rf)
	if !reflect.DeepEqual(rf.Groups, k8sWantRuleGroups(t)) {
		t.Errorf("%s differs from the groups of %s and %s: regenerate it", chartRulesFile, k8sRecordingRulesFile, alertsFile)
	}
}

// TestHelmMatchesPlainManifests keeps the chart's defaults and
// kubernetes/deployment.yaml the same where it matters.
func TestHelmMatchesPlainManifests(t *testing.T) {
	t.Parallel()
	chart := renderChart(t, "default-values.yaml").deployment(t)
	m := loadManifests(t)
	plain, ok := m["deployment.yaml"].(*appsv1.Deployment)
	if !ok {
		t.Fatal("no kubernetes/deployment.yaml")
	}
	cp, pp := chart.Spec.Template.Spec, plain.Spec.Template.Spec
	cc, pc := cp.Containers[0], pp.Containers[0]
	mountPaths := func(c corev1.Container) []string {
		var p []string
		for _, vm := range c.VolumeMounts {
			p = append(p, vm.MountPath)
		}
		return p
	}
	for _, f := range []struct {
		what        string
		chart, want any
	}{
		{"image", cc.Image, pc.Image},
		{"args", cc.Args, pc.Args},
		{"ports", cc.Ports, pc.Ports},
		{"livenessProbe", cc.LivenessProbe, pc.LivenessProbe},
		{"readinessProbe", cc.ReadinessProbe, pc.ReadinessProbe},
		{"resources", cc.Resources, pc.Resources},
		{"container securityContext", cc.SecurityContext, pc.SecurityContext},
		{"pod securityContext", cp.SecurityContext, pp.SecurityContext},
		{"automountServiceAccountToken", cp.AutomountServiceAccountToken, pp.AutomountServiceAccountToken},
		{"volume mounts", mountPaths(cc), mountPaths(pc)},
		{"replicas", chart.Spec.Replicas, plain.Spec.Replicas},
	} {
		if !reflect.DeepEqual(f.chart, f.want) {
			t.Errorf("%s: the chart renders %s, kubernetes/deployment.yaml has %s", f.what, show(f.chart), show(f.want))
		}
	}

	all := renderChart(t, "all-enabled-values.yaml", "serviceMonitor.interval=1m", "serviceMonitor.scrapeTimeout=30s")
	plainNP, _ := m["networkpolicy.yaml"].(*networkingv1.NetworkPolicy)
	chartNP, _ := all["NetworkPolicy"].(*networkingv1.NetworkPolicy)
	plainSM, _ := m["servicemonitor.yaml"].(*monitoringv1.ServiceMonitor)
	chartSM, _ := all["ServiceMonitor"].(*monitoringv1.ServiceMonitor)
	if plainNP == nil || chartNP == nil || plainSM == nil || chartSM == nil {
		t.Fatal("a NetworkPolicy or ServiceMonitor is missing")
	}
	if !reflect.DeepEqual(chartNP.Spec.Ingress[0], plainNP.Spec.Ingress[0]) {
		t.Errorf("NetworkPolicy ingress: the chart renders %s, networkpolicy.yaml has %s", show(chartNP.Spec.Ingress[0]), show(plainNP.Spec.Ingress[0]))
	}
	cep, pep := chartSM.Spec.Endpoints[0], plainSM.Spec.Endpoints[0]
	if cep.Port != pep.Port || cep.Path != pep.Path || cep.Interval != pep.Interval || cep.ScrapeTimeout != pep.ScrapeTimeout {
		t.Errorf("ServiceMonitor endpoint: the chart renders %s, servicemonitor.yaml has %s", show(cep), show(pep))
	}
}

func show(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return "\n" + string(b)
}

// TestHelmChecksumFollowsConfig checks that a change of the configuration
// or of a key changes the pod template, so that it rolls, and that other
// changes leave the checksums alone.
func TestHelmChecksumFollowsConfig(t *testing.T) {
	t.Parallel()
	sums := func(set ...string) [2]string {
		a := renderChart(t, "default-values.yaml", set...).deployment(t).Spec.Template.Annotations
		return [2]string{a["checksum/config"], a["checksum/secret"]}
	}
	base := sums()
	for _, tc := range []struct {
		set                      string
		configMoves, secretMoves bool
	}{
		{"config.accounts[0].email=other@example.com", true, false},
		{"cacheTTL=10m", false, false},
		{"apiKeys.api-key=another-key", false, true},
		{"podAnnotations.example\\.com/x=y", false, false},
	} {
		got := sums(tc.set)
		if (got[0] != base[0]) != tc.configMoves || (got[1] != base[1]) != tc.secretMoves {
			t.Errorf("--set %s: checksum/config changed %v (want %v), checksum/secret changed %v (want %v)",
				tc.set, got[0] != base[0], tc.configMoves, got[1] != base[1], tc.secretMoves)
		}
	}
}

// TestHelmRefuses checks the values the chart must not render.
func TestHelmRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set  []string
		want string
	}{
		{[]string{"image.tag=latest"}, "latest is refused"},
		{[]string{"config=null"}, "config"},
		{[]string{"replicas=2"}, "needs sharding.enabled"},
		{[]string{"sharding.enabled=true", "replicas=0"}, "at least 1"},
	} {
		_, err := helmTemplate(t, "default-values.yaml", tc.set...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %v: error %v, want one saying %q", tc.set, err, tc.want)
		}
	}
	// A version tag is taken as given.
	dep := renderChart(t, "default-values.yaml", "image.tag=v9.8.7").deployment(t)
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != k8sImage+":v9.8.7" {
		t.Errorf("image.tag=v9.8.7 gives image %s", got)
	}
}

// TestHelmDecodeRenderedCatches makes sure decodeRendered fails on what it is
// there for.
func TestHelmDecodeRenderedCatches(t *testing.T) {
	t.Parallel()
	out, err := helmTemplate(t, "all-enabled-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeRendered(out); err != nil {
		t.Fatalf("the chart's own output: %v", err)
	}
	for _, tc := range []struct{ from, to string }{
		{"readOnlyRootFilesystem:", "readOnlyRootFileSystem:"},
		{"scrapeTimeout:", "scrapetimeout:"},
		{"policyTypes:", "policyType:"},
		{"kind: NetworkPolicy", "kind: NetworkPolicies"},
		{"apiVersion: networking.k8s.io/v1", "apiVersion: extensions/v1beta1"},
		{"automountServiceAccountToken: false\n", "automountServiceAccountToken: false\nautomountServiceAccountToken: true\n"},
	} {
		bad := bytes.Replace(out, []byte(tc.from), []byte(tc.to), 1)
		if bytes.Equal(bad, out) {
			t.Fatalf("the rendered chart has no %q", tc.from)
		}
		if _, err := decodeRendered(bad); err == nil {
			t.Errorf("%q changed to %q decodes without error", tc.from, tc.to)
		}
	}
}

// TestHelmConfigPassesConfigCheck runs the exporter's --config.check on the
// configuration each ci values file renders, with key files where the
// Secret would be mounted, and on one it must refuse.
func TestHelmConfigPassesConfigCheck(t *testing.T) {
	t.Parallel()
	requireHelm(t)
	bin := os.Getenv("E2E_EXPORTER_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "upstash_backup_exporter")
		cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/upstash-backup-exporter/upstash_backup_exporter")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	// check runs --config.check with the rendered configuration and, when
	// sharding, the rendered --shard flags as the pod of ordinal would
	// see them.
	check := func(t *testing.T, file string, ordinal int, set ...string) ([]byte, error) {
		r := renderChart(t, file, set...)
		cm := r.configMap(t)
		var shardArgs []string
		if sts := r.statefulSet(); sts != nil {
			podName := fmt.Sprintf("%s-%d", sts.Name, ordinal)
			for _, a := range sts.Spec.Template.Spec.Containers[0].Args {
				if strings.HasPrefix(a, "--shard.") {
					shardArgs = append(shardArgs, strings.ReplaceAll(a, "$(POD_NAME)", podName))
				}
			}
		}
		config, ok := cm.Data["config.yml"]
		if !ok {
			t.Fatal("ConfigMap has no config.yml")
		}
		var cfg chartConfig
		if err := yaml.Unmarshal([]byte(config), &cfg); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for _, a := range cfg.Accounts {
			if a.APIKeyFile == "" {
				continue
			}
			name := filepath.Join(dir, strings.TrimPrefix(a.APIKeyFile, chartKeyDir+"/"))
			if err := os.WriteFile(name, []byte("not-a-real-key\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(config, chartKeyDir+"/", dir+"/")), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), bin, append([]string{"--config.file=" + path, "--config.check"}, shardArgs...)...)
		cmd.Env = append(os.Environ(), "UPSTASH_EMAIL=", "UPSTASH_API_KEY=")
		out, err := cmd.CombinedOutput()
		if bytes.Contains(out, []byte("not-a-real-key")) {
			t.Errorf("--config.check printed the key:\n%s", out)
		}
		return out, err
	}
	for file := range chartCIFiles {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			out, err := check(t, file, 0)
			if err != nil {
				t.Fatalf("--config.check: %v\n%s", err, out)
			}
		})
	}
	// The last pod of a StatefulSet is accepted, the one past it refused:
	// --shard.count and the pod name agree.
	t.Run("last shard", func(t *testing.T) {
		t.Parallel()
		if out, err := check(t, "sharding-values.yaml", 2); err != nil {
			t.Fatalf("--config.check as pod 2 of 3: %v\n%s", err, out)
		}
		out, err := check(t, "sharding-values.yaml", 3)
		if err == nil || !bytes.Contains(out, []byte("--shard.index must be from 0 to --shard.count - 1 (2), got 3")) {
			t.Errorf("--config.check as pod 3 of 3: %v, want it refused:\n%s", err, out)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		t.Parallel()
		out, err := check(t, "default-values.yaml", 0, "config.accounts[0].api_key_flie=/run/secrets/upstash/api-key")
		if err == nil || !bytes.Contains(out, []byte("api_key_flie")) {
			t.Errorf("--config.check: %v, want it to refuse the unknown key api_key_flie:\n%s", err, out)
		}
	})
}

// chartDocumentedValues returns the values.yaml keys that carry a helm-docs
// comment ("# -- "), as dotted paths.
func chartDocumentedValues(values string) []string {
	keyLine := regexp.MustCompile(`^( *)([A-Za-z][\w.-]*):`)
	type level struct {
		indent int
		key    string
	}
	var stack []level
	var keys []string
	documented := false
	for line := range strings.Lines(values) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "# -- ") {
			documented = true
			continue
		}
		m := keyLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for len(stack) > 0 && stack[len(stack)-1].indent >= len(m[1]) {
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, level{len(m[1]), m[2]})
		if documented {
			var path []string
			for _, l := range stack {
				path = append(path, l.key)
			}
			keys = append(keys, strings.Join(path, "."))
			documented = false
		}
	}
	return keys
}

// TestHelmReadmeListsValues checks that every documented value is in the
// chart README's table, and that nothing in that table is gone from
// values.yaml.
func TestHelmReadmeListsValues(t *testing.T) {
	t.Parallel()
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	keys := chartDocumentedValues(string(values))
	if len(keys) < 20 || !slices.Contains(keys, "serviceMonitor.jobName") || !slices.Contains(keys, "image.digest") {
		t.Fatalf("values.yaml: documented keys %v: the parser or the comments are off", keys)
	}
	var rows []string
	for line := range strings.Lines(string(readme)) {
		if key, ok := strings.CutPrefix(line, "| "); ok {
			key, _, _ = strings.Cut(key, " |")
			if key != "Key" && !strings.HasPrefix(key, "-") {
				rows = append(rows, key)
			}
		}
	}
	if !slices.Equal(rows, keys) {
		t.Errorf("README.md values table lists %v,\nvalues.yaml documents %v", rows, keys)
	}
}
