package manifestcheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The manifests are templates for envsubst: these are the variables they may use, with the
// values the test fills in.
var vars = map[string]string{
	"RUN_ID":       "fleet-20300101t000000z",
	"MACHINES":     "3",
	"START_AT":     "2030-01-01T00:05:00Z",
	"FBENCH_IMAGE": "registry.example.com/fbench:1.0",
	"WORKER_IMAGE": "registry.example.com/worker:2.3",
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// fill replaces ${VAR} as envsubst does, failing on a variable the manifests do not document.
func fill(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	return placeholder.ReplaceAllFunc(data, func(m []byte) []byte {
		v, ok := vars[string(m[2:len(m)-1])]
		if !ok {
			t.Errorf("%s: unknown placeholder %s", name, m)
		}
		return []byte(v)
	})
}

// object is one decoded manifest document.
type object struct {
	file string
	kind string
	name string
	obj  any
}

// decode decodes every document of a manifest strictly (an unknown or duplicated field is an error)
// into the Kubernetes API type its apiVersion and kind name.
func decode(file string, data []byte) ([]object, error) {
	var out []object
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			return nil, fmt.Errorf("%s document %d: %w", file, i+1, err)
		}
		var obj interface{ GetName() string }
		switch tm.APIVersion + " " + tm.Kind {
		case "batch/v1 Job":
			obj = &batchv1.Job{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "v1 PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "rbac.authorization.k8s.io/v1 Role":
			obj = &rbacv1.Role{}
		case "rbac.authorization.k8s.io/v1 RoleBinding":
			obj = &rbacv1.RoleBinding{}
		default:
			return nil, fmt.Errorf("%s document %d: unexpected apiVersion %q kind %q", file, i+1, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("%s document %d (%s): %w", file, i+1, tm.Kind, err)
		}
		if obj.GetName() == "" {
			return nil, fmt.Errorf("%s document %d (%s): no metadata.name", file, i+1, tm.Kind)
		}
		out = append(out, object{file: file, kind: tm.Kind, name: obj.GetName(), obj: obj})
	}
	return out, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func loadAll(t *testing.T) map[string][]object {
	t.Helper()
	files, err := filepath.Glob("../*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("manifests: %v %v", files, err)
	}
	all := map[string][]object{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := decode(filepath.Base(f), fill(t, f, data))
		if err != nil {
			t.Fatal(err)
		}
		all[filepath.Base(f)] = objs
	}
	return all
}

func job(t *testing.T, all map[string][]object, file string) *batchv1.Job {
	t.Helper()
	for _, o := range all[file] {
		if j, ok := o.obj.(*batchv1.Job); ok {
			return j
		}
	}
	t.Fatalf("%s: no Job", file)
	return nil
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkPod checks what the API server would only find at run time: every $(VAR) of a container's
// command and args is one of its env variables, every mount names a volume of the pod, and the
// pod is not restarted in place (a restarted fbench would measure another window).
func checkPod(t *testing.T, name string, spec corev1.PodSpec) {
	t.Helper()
	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q, want Never", name, spec.RestartPolicy)
	}
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		if c.Image == "" {
			t.Errorf("%s/%s: no image", name, c.Name)
		}
		env := map[string]bool{}
		for _, e := range c.Env {
			env[e.Name] = true
			if f := e.ValueFrom; f != nil && f.FieldRef != nil && f.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" &&
				f.FieldRef.FieldPath != "spec.nodeName" {
				t.Errorf("%s/%s: env %s from an unexpected field %s", name, c.Name, e.Name, f.FieldRef.FieldPath)
			}
		}
		for _, a := range append(slices.Clone(c.Command), c.Args...) {
			for _, m := range varRef.FindAllStringSubmatch(strings.ReplaceAll(a, "$$", ""), -1) {
				if !env[m[1]] {
					t.Errorf("%s/%s: $(%s) is not an env variable of the container: Kubernetes would leave it as is", name, c.Name, m[1])
				}
			}
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				t.Errorf("%s/%s: mounts %s, which is no volume of the pod", name, c.Name, m.Name)
			}
		}
	}
}

func TestManifestsDecodeStrictly(t *testing.T) {
	all := loadAll(t)
	for file, objs := range all {
		for _, o := range objs {
			if j, ok := o.obj.(*batchv1.Job); ok {
				checkPod(t, file+" "+j.Name, j.Spec.Template.Spec)
			}
		}
	}

	fleet := job(t, all, "fleet-job.yaml")
	s := fleet.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("fleet: not an Indexed Job")
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Completions != 3 || *s.Parallelism != *s.Completions {
		t.Errorf("fleet: completions %v parallelism %v, want both ${MACHINES}: every machine at once", s.Completions, s.Parallelism)
	}
	if s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex != 0 {
		t.Errorf("fleet: a failed index must not be retried (it would start past --start-at)")
	}
	pod := s.Template.Spec
	if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 ||
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("fleet: pods are not spread one per node")
	}
	bench := pod.Containers[0]
	if bench.Image != vars["WORKER_IMAGE"] || bench.Command[0] != "/fbench/fbench" || bench.Args[0] != "run" {
		t.Errorf("fleet: the bench container does not run fbench in the worker image: %s %v %v", bench.Image, bench.Command, bench.Args)
	}
	for _, want := range []string{"--start-at=$(START_AT)", "--out=/results/$(RUN_ID)/runs/index-$(INDEX)-$(NODE_NAME)"} {
		if !slices.Contains(bench.Args, want) {
			t.Errorf("fleet: args %q lack %q", bench.Args, want)
		}
	}
	if pod.InitContainers[0].Image != vars["FBENCH_IMAGE"] {
		t.Errorf("fleet: fbench is not installed from its image")
	}
	if q := bench.Resources.Requests.Cpu(); q.Cmp(*bench.Resources.Limits.Cpu()) != 0 {
		t.Errorf("fleet: cpu request %s != limit %s: not the Guaranteed class", q, bench.Resources.Limits.Cpu())
	}

	merge := job(t, all, "merge-job.yaml")
	mp := merge.Spec.Template.Spec
	if mp.Containers[0].Args[0] != "merge" || !slices.Contains(mp.Containers[0].Args, "/results/$(RUN_ID)/runs") {
		t.Errorf("merge: args %q do not merge the fleet's runs", mp.Containers[0].Args)
	}
	if wait := strings.Join(mp.InitContainers[0].Args, " "); !strings.Contains(wait, "job/"+fleet.Name) || !strings.Contains(wait, "condition=complete") {
		t.Errorf("merge: %q does not wait for the fleet Job %s to complete", wait, fleet.Name)
	}
	var role *rbacv1.Role
	for _, o := range all["merge-job.yaml"] {
		if r, ok := o.obj.(*rbacv1.Role); ok {
			role = r
		}
	}
	if role == nil || !slices.Contains(role.Rules[0].Verbs, "watch") || mp.ServiceAccountName == "" {
		t.Errorf("merge: kubectl wait needs a service account allowed to watch jobs")
	}

	var claim string
	for _, o := range all["results-pvc.yaml"] {
		claim = o.name
	}
	for _, j := range []*batchv1.Job{fleet, merge, job(t, all, "matrix-job.yaml")} {
		for _, v := range j.Spec.Template.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName != claim {
				t.Errorf("%s: claims %s, the results volume is %s", j.Name, v.PersistentVolumeClaim.ClaimName, claim)
			}
		}
	}
	matrix := job(t, all, "matrix-job.yaml")
	var cm *corev1.ConfigMap
	for _, o := range all["matrix-job.yaml"] {
		if c, ok := o.obj.(*corev1.ConfigMap); ok {
			cm = c
		}
	}
	for i := range int(*matrix.Spec.Completions) {
		if _, ok := cm.Data[fmt.Sprintf("cell-%d", i)]; !ok {
			t.Errorf("matrix: index %d has no cell-%d in the ConfigMap", i, i)
		}
	}
}

// Strict decoding is what catches a misspelled field: a manifest with one fails.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	data, err := os.ReadFile("../fleet-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to string }{
		{"completionMode: Indexed", "completionMod: Indexed"},
		{"restartPolicy: Never", "restartPolicy: Never\n      restartPolicy: Never"},
		{"cpu: \"4\"", "cpu: \"four\""},
	} {
		bad := bytes.Replace(fill(t, "fleet", data), []byte(tc.from), []byte(tc.to), 1)
		if _, err := decode("fleet-job.yaml", bad); err == nil {
			t.Errorf("%q decoded without an error", tc.to)
		}
	}
}

func TestGitHubRecipeAndDockerfile(t *testing.T) {
	data, err := os.ReadFile("../github-matrix.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Needs    any `json:"needs"`
			Strategy struct {
				Matrix map[string][]any `json:"matrix"`
			} `json:"strategy"`
			Steps []struct {
				Run string `json:"run"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	runs := func(job string) string {
		var b strings.Builder
		for _, s := range wf.Jobs[job].Steps {
			b.WriteString(s.Run + "\n")
		}
		return b.String()
	}
	if len(wf.Jobs["fleet"].Strategy.Matrix["machine"]) < 2 || !strings.Contains(runs("fleet"), "--start-at ${{ needs.plan.outputs.start_at }}") {
		t.Errorf("fleet: no matrix of machines sharing one --start-at")
	}
	if !strings.Contains(runs("merge"), "fbench merge") {
		t.Errorf("merge job does not merge")
	}
	if len(wf.Jobs["matrix"].Strategy.Matrix) < 2 {
		t.Errorf("matrix job has no matrix")
	}

	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	d := string(df)
	if strings.Count(d, "\nFROM ") < 2 || !strings.Contains(d, "CGO_ENABLED=0") || !strings.Contains(d, "./cmd/fbench") ||
		!strings.Contains(d, "COPY --from=build /out/fbench /usr/local/bin/fbench") {
		t.Errorf("Dockerfile is not a multi-stage build of a static fbench at /usr/local/bin/fbench")
	}
}
