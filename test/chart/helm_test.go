package chart

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "../../charts/wisp"
	releaseName = "wisp"
	releaseNS   = "wisp-system"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helmBinary returns the helm binary: $WISP_HELM, or the one
// test/scripts/ensure-helm.sh builds (once, cached across runs).
func helmBinary(t testing.TB) string {
	t.Helper()
	helmOnce.Do(func() {
		if p := os.Getenv("WISP_HELM"); p != "" {
			if _, err := os.Stat(p); err != nil {
				helmErr = fmt.Errorf("WISP_HELM=%s: %w", p, err)
			}
			helmPath = p
			return
		}
		start := time.Now()
		cmd := exec.Command(filepath.Join("..", "scripts", "ensure-helm.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			helmErr = fmt.Errorf("build helm with test/scripts/ensure-helm.sh (or set WISP_HELM): %w", err)
			return
		}
		helmPath = filepath.Join(strings.TrimSpace(string(out)), "helm")
		if d := time.Since(start); d > 5*time.Second {
			fmt.Fprintf(os.Stderr, "chart: helm ready in %s\n", d.Round(time.Second))
		}
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmPath
}

// runHelm runs helm with args; it returns stdout, and an error holding
// stderr when helm fails.
func runHelm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	return execHelm(helmBinary(t), args...)
}

func execHelm(bin string, args ...string) (string, error) {
	home, err := os.MkdirTemp("", "wisp-helm-home-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home)
	cmd := exec.Command(bin, args...)
	// No user or repository state leaks in, nothing is written outside a
	// temporary folder.
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// templateArgs are the arguments of `helm template` for the release with
// the given values files (absolute, or relative to testdata/) and --set
// pairs.
func templateArgs(valuesFiles []string, sets ...string) []string {
	args := []string{"template", releaseName, chartDir, "--namespace", releaseNS}
	for _, f := range valuesFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join("testdata", f)
		}
		args = append(args, "--values", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}

// object is one rendered manifest, decoded.
type object struct {
	Kind, Name string
	// Obj is a pointer to the typed struct (or *unstructuredObject).
	Obj  any
	Raw  []byte
	File string // the template it came from
}

// rendered is everything one `helm template` produced.
type rendered []object

// render runs helm template and decodes every object strictly.
func render(t testing.TB, valuesFiles []string, sets ...string) rendered {
	t.Helper()
	out, err := runHelm(t, templateArgs(valuesFiles, sets...)...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll(out)
	if err != nil {
		t.Fatalf("values %v: %v", valuesFiles, err)
	}
	return objs
}

// decodeAll splits helm's output into documents and decodes each into its
// typed struct, rejecting unknown fields, unknown kinds and duplicates.
func decodeAll(out string) (rendered, error) {
	var objs rendered
	var errs []error
	seen := map[string]bool{}
	for _, doc := range strings.Split(out, "\n---") {
		file := ""
		if i := strings.Index(doc, "# Source: "); i >= 0 {
			file = strings.TrimSpace(strings.SplitN(doc[i+len("# Source: "):], "\n", 2)[0])
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		if tm.Kind == "" && strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		o, err := decodeObject(tm, []byte(doc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %s: %w", file, tm.APIVersion, tm.Kind, err))
			continue
		}
		o.File = file
		key := o.Kind + "/" + o.Name
		if seen[key] {
			errs = append(errs, fmt.Errorf("%s: %s rendered twice", file, key))
		}
		seen[key] = true
		objs = append(objs, o)
	}
	return objs, errors.Join(errs...)
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

// typed lists the kinds the chart may render, by apiVersion and kind.
var typed = map[string]func() any{
	"apps/v1 Deployment": func() any { return &appsv1.Deployment{} },
	"batch/v1 CronJob":   func() any { return &batchv1.CronJob{} },
	"apiextensions.k8s.io/v1 CustomResourceDefinition": func() any { return &apiextensionsv1.CustomResourceDefinition{} },
	"v1 Service":                                                   func() any { return &corev1.Service{} },
	"v1 ServiceAccount":                                            func() any { return &corev1.ServiceAccount{} },
	"v1 ConfigMap":                                                 func() any { return &corev1.ConfigMap{} },
	"policy/v1 PodDisruptionBudget":                                func() any { return &policyv1.PodDisruptionBudget{} },
	"rbac.authorization.k8s.io/v1 ClusterRole":                     func() any { return &rbacv1.ClusterRole{} },
	"rbac.authorization.k8s.io/v1 ClusterRoleBinding":              func() any { return &rbacv1.ClusterRoleBinding{} },
	"rbac.authorization.k8s.io/v1 Role":                            func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1 RoleBinding":                     func() any { return &rbacv1.RoleBinding{} },
	"admissionregistration.k8s.io/v1 MutatingWebhookConfiguration": func() any { return &admissionregistrationv1.MutatingWebhookConfiguration{} },
	"admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration": func() any {
		return &admissionregistrationv1.ValidatingWebhookConfiguration{}
	},
}

func decodeObject(tm metav1.TypeMeta, doc []byte) (object, error) {
	key := tm.APIVersion + " " + tm.Kind
	if newObj, ok := typed[key]; ok {
		obj := newObj()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return object{}, err
		}
		meta := obj.(metav1.Object)
		return object{Kind: tm.Kind, Name: meta.GetName(), Obj: obj, Raw: doc}, nil
	}
	if schema, ok := crdSchemas[key]; ok {
		var u map[string]any
		if err := yaml.Unmarshal(doc, &u); err != nil {
			return object{}, err
		}
		if err := checkFields(schema, u, ""); err != nil {
			return object{}, err
		}
		name, _ := u["metadata"].(map[string]any)["name"].(string)
		return object{Kind: tm.Kind, Name: name, Obj: &unstructuredObject{u}, Raw: doc}, nil
	}
	return object{}, fmt.Errorf("the chart renders a kind the tests do not know; add it to typed or crdSchemas")
}

// find returns the objects of one kind.
func (r rendered) find(kind string) []object {
	var out []object
	for _, o := range r {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// one returns the single object of kind, failing the test otherwise.
func one[T any](t testing.TB, r rendered, kind string) T {
	t.Helper()
	objs := r.find(kind)
	if len(objs) != 1 {
		t.Fatalf("rendered %d %s objects, want 1", len(objs), kind)
	}
	v, ok := objs[0].Obj.(T)
	if !ok {
		t.Fatalf("%s decoded as %T", kind, objs[0].Obj)
	}
	return v
}

// named returns the object of kind with name, failing the test otherwise.
func named[T any](t testing.TB, r rendered, kind, name string) T {
	t.Helper()
	for _, o := range r.find(kind) {
		if o.Name == name {
			v, ok := o.Obj.(T)
			if !ok {
				t.Fatalf("%s %s decoded as %T", kind, name, o.Obj)
			}
			return v
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	var zero T
	return zero
}

// unstructuredObject is a CRD object checked against a field whitelist.
type unstructuredObject struct{ Object map[string]any }

// get walks a dotted path of maps.
func (u *unstructuredObject) get(path string) any {
	var cur any = u.Object
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// fields is a whitelist of an object's fields: a map of allowed keys to the
// whitelist of their values; nil accepts any value (a leaf, or free-form
// map such as labels); a one-element []fields is a list of such objects.
type fields map[string]any

var metadataFields = fields{"name": nil, "namespace": nil, "labels": nil, "annotations": nil}

// crdSchemas whitelist the fields of the CRD objects the chart renders, after
// cert-manager.io/v1 and monitoring.coreos.com/v1: a misspelt field fails.
var crdSchemas = map[string]fields{
	"cert-manager.io/v1 Issuer": {
		"apiVersion": nil, "kind": nil, "metadata": metadataFields,
		"spec": fields{"selfSigned": fields{}, "ca": fields{"secretName": nil}},
	},
	"cert-manager.io/v1 Certificate": {
		"apiVersion": nil, "kind": nil, "metadata": metadataFields,
		"spec": fields{
			"isCA": nil, "commonName": nil, "secretName": nil, "dnsNames": nil, "duration": nil, "renewBefore": nil, "usages": nil,
			"privateKey": fields{"algorithm": nil, "size": nil, "rotationPolicy": nil, "encoding": nil},
			"issuerRef":  fields{"group": nil, "kind": nil, "name": nil},
		},
	},
	"monitoring.coreos.com/v1 ServiceMonitor": {
		"apiVersion": nil, "kind": nil, "metadata": metadataFields,
		"spec": fields{
			"selector":          fields{"matchLabels": nil, "matchExpressions": nil},
			"namespaceSelector": fields{"matchNames": nil, "any": nil},
			"endpoints": []fields{{
				"port": nil, "path": nil, "scheme": nil, "interval": nil, "scrapeTimeout": nil,
				"tlsConfig": fields{
					"serverName": nil, "insecureSkipVerify": nil,
					"ca":        fields{"secret": fields{"name": nil, "key": nil}, "configMap": fields{"name": nil, "key": nil}},
					"cert":      fields{"secret": fields{"name": nil, "key": nil}, "configMap": fields{"name": nil, "key": nil}},
					"keySecret": fields{"name": nil, "key": nil},
				},
			}},
		},
	},
}

// checkFields reports the first field of v that spec does not allow.
func checkFields(spec fields, v map[string]any, path string) error {
	for k, val := range v {
		sub, ok := spec[k]
		if !ok {
			return fmt.Errorf("unknown field %s%s", path, k)
		}
		switch sub := sub.(type) {
		case fields:
			m, ok := val.(map[string]any)
			if !ok {
				return fmt.Errorf("field %s%s: want an object, got %T", path, k, val)
			}
			if err := checkFields(sub, m, path+k+"."); err != nil {
				return err
			}
		case []fields:
			list, ok := val.([]any)
			if !ok {
				return fmt.Errorf("field %s%s: want a list, got %T", path, k, val)
			}
			for i, item := range list {
				m, ok := item.(map[string]any)
				if !ok {
					return fmt.Errorf("field %s%s[%d]: want an object", path, k, i)
				}
				if err := checkFields(sub[0], m, fmt.Sprintf("%s%s[%d].", path, k, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
