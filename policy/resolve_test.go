package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

const (
	awsKey    = "AKIAZ5QW" + "ERTYUIOP7QAB" // a fake key in AWS's format
	awsCanary = "ERTYUIOP7QAB"
)

func fieldRef(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func secretKeyRef(name string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}
}

func configMapKeyRef(name, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: key}}}
}

// TestDownwardAPIEnv: an env var that reads an annotation or a label through
// fieldRef is judged as that literal under the env var's name, in every
// container kind.
func TestDownwardAPIEnv(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	annotations := map[string]string{"aws-key": awsKey, "db-password": "postgres", "team": "orders", "ref": "vault:secret/data/db#password"}
	labels := map[string]string{"token": awsKey, "app": "web"}
	tests := []struct {
		name      string
		env       corev1.EnvVar
		rule, via string // "" rule: no violation
	}{
		{"AWS key from an annotation", fieldRef("AWS_ACCESS_KEY_ID", "metadata.annotations['aws-key']"), RuleKnownCredentialFormat, `annotation "aws-key" through fieldRef: `},
		{"weak password from an annotation", fieldRef("DB_PASSWORD", "metadata.annotations['db-password']"), RuleEnvNameWeakLiteral, `annotation "db-password" through fieldRef: `},
		{"AWS key from a label under any name", fieldRef("BUILD", "metadata.labels['token']"), RuleKnownCredentialFormat, `label "token" through fieldRef: `},
		{"a plain annotation", fieldRef("TEAM", "metadata.annotations['team']"), "", ""},
		{"a plain label under a password name", fieldRef("DB_PASSWORD", "metadata.labels['app']"), RuleEnvNameWeakLiteral, `label "app" through fieldRef: `},
		{"a missing annotation", fieldRef("DB_PASSWORD", "metadata.annotations['nope']"), "", ""},
		{"a reference in an annotation", fieldRef("DB_PASSWORD", "metadata.annotations['ref']"), "", ""},
		{"other fields are not read", fieldRef("DB_PASSWORD", "metadata.name"), "", ""},
		{"no subscript", fieldRef("DB_PASSWORD", "metadata.annotations"), "", ""},
	}
	for _, tt := range tests {
		for _, kind := range []string{"initContainers", "containers", "ephemeralContainers"} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}
				env := []corev1.EnvVar{lit("LOG_LEVEL", "info"), tt.env}
				switch kind {
				case "initContainers":
					spec.InitContainers = []corev1.Container{{Name: "c", Image: "c:1", Env: env}}
				case "containers":
					spec.Containers[0].Env = env
				default:
					spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "c", Image: "c:1", Env: env}}}
				}
				for _, o := range []Object{
					{Kind: "Pod", Namespace: "team-a", Name: "web", Annotations: annotations, Labels: labels, Spec: spec},
					{Kind: "CronJob", Namespace: "team-a", Name: "nightly", Annotations: annotations, Labels: labels, Spec: spec},
				} {
					vs := e.Evaluate(o).Violations
					if tt.rule == "" {
						if len(vs) != 0 {
							t.Fatalf("%s: want no violation, got %v", o.Kind, e.Evaluate(o).Messages(o))
						}
						continue
					}
					if len(vs) != 1 || vs[0].RuleID != tt.rule || vs[0].Env != tt.env.Name || !strings.HasPrefix(vs[0].Reason, tt.via) ||
						!strings.HasSuffix(vs[0].Field, "."+kind+"[0].env[1]") {
						t.Fatalf("%s: want %s on %s via %q, got %+v", o.Kind, tt.rule, tt.env.Name, tt.via, vs)
					}
					if msg := vs[0].Message(o); strings.Contains(msg, awsCanary) || strings.Contains(msg, "postgres") {
						t.Errorf("the message quotes the value: %s", msg)
					}
				}
			})
		}
	}
}

// TestExpansionRename: a literal is judged after the kubelet's $(VAR)
// expansion, with only the variables defined before it.
func TestExpansionRename(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	tests := []struct {
		name string
		env  []corev1.EnvVar
		want []string // Env of the violations, "" none
	}{
		{"one hop", []corev1.EnvVar{lit("DEFAULT_DB", "postgres"), lit("POSTGRES_PASSWORD", "$(DEFAULT_DB)")}, []string{"POSTGRES_PASSWORD"}},
		{"two hops", []corev1.EnvVar{lit("A", "postgres"), lit("B", "$(A)"), lit("MYSQL_ROOT_PASSWORD", "$(B)")}, []string{"MYSQL_ROOT_PASSWORD"}},
		{"pieces", []corev1.EnvVar{lit("P1", "AKIAZ5QW"), lit("P2", "ERTYUIOP7QAB"), lit("BUILD_ID", "$(P1)$(P2)")}, []string{"BUILD_ID"}},
		{"an annotation through fieldRef, then renamed", []corev1.EnvVar{fieldRef("X", "metadata.annotations['db']"), lit("DB_PASSWORD", "$(X)")}, []string{"DB_PASSWORD"}},
		{"a later definition is not seen", []corev1.EnvVar{lit("POSTGRES_PASSWORD", "$(DEFAULT_DB)"), lit("DEFAULT_DB", "postgres")}, nil},
		{"escaped", []corev1.EnvVar{lit("DEFAULT_DB", "postgres"), lit("POSTGRES_PASSWORD", "$$(DEFAULT_DB)")}, nil},
		{"a Secret stays a reference", []corev1.EnvVar{secretKeyRef("PW"), lit("PGPASSWORD", "$(PW)")}, []string{"PW"}},
		{"a redefinition from a ConfigMap hides the literal", []corev1.EnvVar{lit("X", "postgres"), configMapKeyRef("X", "db"), lit("DB_PASSWORD", "$(X)")}, nil},
		{"a URL built from a known password", []corev1.EnvVar{lit("DB_PASS", "s3cr3t-Pa55"), lit("DATABASE_URL", "postgres://app:$(DB_PASS)@db:5432/app")}, []string{"DB_PASS", "DATABASE_URL"}},
		{"a URL with an unknown password", []corev1.EnvVar{secretKeyRef("PW"), lit("DATABASE_URL", "postgres://app:$(PW)@db:5432/app")}, []string{"PW"}},
		{"configuration renamed", []corev1.EnvVar{lit("HOST", "db"), lit("DB_HOST", "$(HOST)"), lit("DB_PASSWORD_FILE", "/vault/secrets/$(HOST)")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := podWithEnv(tt.env...)
			o.Annotations = map[string]string{"db": "postgres"}
			var got []string
			for _, v := range e.Evaluate(o).Violations {
				got = append(got, v.Env)
				if strings.Contains(v.Message(o), "postgres") || strings.Contains(v.Message(o), "Pa55") {
					t.Errorf("the message quotes the value: %s", v.Message(o))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
	// The reason says why a reference was judged.
	o := podWithEnv(lit("DEFAULT_DB", "postgres"), lit("POSTGRES_PASSWORD", "$(DEFAULT_DB)"))
	if vs := e.Evaluate(o).Violations; len(vs) != 1 || !strings.HasPrefix(vs[0].Reason, viaExpansion+": ") {
		t.Errorf("reason: %+v", vs)
	}
}

// TestDownwardAPIVolume: a downward API file that holds an annotation or a
// label is judged under the file's base name; a file of every annotation,
// each under its key.
func TestDownwardAPIVolume(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	item := func(path, fieldPath string) corev1.DownwardAPIVolumeFile {
		return corev1.DownwardAPIVolumeFile{Path: path, FieldRef: &corev1.ObjectFieldSelector{FieldPath: fieldPath}}
	}
	downward := func(items ...corev1.DownwardAPIVolumeFile) corev1.Volume {
		return corev1.Volume{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: items}}}
	}
	projected := func(items ...corev1.DownwardAPIVolumeFile) corev1.Volume {
		return corev1.Volume{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: items}},
		}}}}
	}
	tests := []struct {
		name   string
		vol    corev1.Volume
		rule   string
		field  string
		prefix string // of the message
	}{
		{"an AWS key", downward(item("creds/aws", "metadata.annotations['aws-key']")), RuleKnownCredentialFormat,
			"spec.volumes[0].downwardAPI.items[0]", `Pod team-a/web: volume "podinfo": file creds/aws: annotation "aws-key" through the downward API: `},
		{"a weak password under the file's name", downward(item("name", "metadata.name"), item("db-password", "metadata.annotations['pw']")), RuleEnvNameWeakLiteral,
			"spec.volumes[0].downwardAPI.items[1]", `Pod team-a/web: volume "podinfo": file db-password: annotation "pw" through the downward API: `},
		{"every annotation", downward(item("annotations", "metadata.annotations")), RuleKnownCredentialFormat,
			"spec.volumes[0].downwardAPI.items[0]", `Pod team-a/web: volume "podinfo": file annotations: annotation "aws-key" through the downward API: `},
		{"projected", projected(item("key", "metadata.labels['token']")), RuleKnownCredentialFormat,
			"spec.volumes[0].projected.sources[1].downwardAPI.items[0]", `Pod team-a/web: volume "all": file key: label "token" through the downward API: `},
		{"plain fields", downward(item("name", "metadata.name"), item("team", "metadata.annotations['team']"), item("app", "metadata.labels['app']")), "", "", ""},
		{"every label, a key in AWS's format", downward(item("labels", "metadata.labels")), RuleKnownCredentialFormat,
			"spec.volumes[0].downwardAPI.items[0]", `Pod team-a/web: volume "podinfo": file labels: label "token" through the downward API: `},
		{"no fieldRef", downward(corev1.DownwardAPIVolumeFile{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}), "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := podWithEnv()
			o.Annotations = map[string]string{"aws-key": awsKey, "pw": "admin", "team": "orders",
				"kubectl.kubernetes.io/last-applied-configuration": `{"metadata":{"annotations":{"aws-key":"` + awsKey + `"}}}`}
			o.Labels = map[string]string{"token": awsKey, "app": "web"}
			o.Spec.Volumes = []corev1.Volume{tt.vol}
			vs := e.Evaluate(o).Violations
			if tt.rule == "" {
				if len(vs) != 0 {
					t.Fatalf("want no violation, got %v", e.Evaluate(o).Messages(o))
				}
				return
			}
			if len(vs) != 1 || vs[0].RuleID != tt.rule || vs[0].Field != tt.field || !strings.HasPrefix(vs[0].Message(o), tt.prefix) {
				t.Fatalf("want %s at %s, %q...; got %+v %v", tt.rule, tt.field, tt.prefix, vs, e.Evaluate(o).Messages(o))
			}
			if msg := vs[0].Message(o); strings.Contains(msg, awsCanary) || strings.Contains(msg, "admin") || strings.Contains(msg, "{env}") {
				t.Errorf("message: %s", msg)
			}
		})
	}
}

// TestConfigMapSecretNameWarnsOnly: the rule reports, but never denies, in
// enforce mode; it names the ConfigMap.
func TestConfigMapSecretNameWarnsOnly(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	o := podWithEnv(configMapKeyRef("DB_PASSWORD", "password"))
	o.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-secrets"}}}}
	d := e.Evaluate(o)
	if d.Mode != ModeEnforce || d.Denied() || len(d.Violations) != 2 || !d.Violations[0].WarnOnly || !d.Violations[1].WarnOnly {
		t.Fatalf("want two warn-only violations, not denied: denied %v %+v", d.Denied(), d.Violations)
	}
	msgs := d.Messages(o)
	for i, want := range []string{
		`Pod team-a/web: container "app": env DB_PASSWORD: value comes from key "password" of ConfigMap "settings" under a secret-looking name (rule env-config-map-secret-name); `,
		`Pod team-a/web: container "app": envFrom ConfigMap "app-secrets": every key of ConfigMap "app-secrets" becomes an env var, and its name says it holds secrets (rule env-config-map-secret-name); `,
	} {
		if !strings.HasPrefix(msgs[i], want) || strings.Contains(msgs[i], "{env}") {
			t.Errorf("message %d = %q, want prefix %q", i, msgs[i], want)
		}
	}
	// With a blocking violation beside it, the object is denied.
	o.Spec.Containers[0].Env = append(o.Spec.Containers[0].Env, secretKeyRef("API_TOKEN"))
	if !e.Evaluate(o).Denied() {
		t.Error("a secretKeyRef beside a warn-only violation is not denied")
	}
}

func TestSplitSubscript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, path, key string
		ok            bool
	}{
		{"metadata.annotations['a']", "metadata.annotations", "a", true},
		{"metadata.labels['example.com/x']", "metadata.labels", "example.com/x", true},
		{"metadata.annotations['a['b']", "metadata.annotations", "a['b", true},
		{"metadata.annotations", "metadata.annotations", "", false},
		{"['a']", "['a']", "", false},
		{"metadata.annotations[a]", "metadata.annotations[a]", "", false},
	}
	for _, tt := range tests {
		path, key, ok := splitSubscript(tt.in)
		if path != tt.path || key != tt.key || ok != tt.ok {
			t.Errorf("splitSubscript(%q) = %q, %q, %v; want %q, %q, %v", tt.in, path, key, ok, tt.path, tt.key, tt.ok)
		}
	}
}

// TestExpansionBounded: values that double at each step cost a bounded
// amount of work; a value past what a container can start with is not a
// variable for the values after it, and the rest is still judged.
func TestExpansionBounded(t *testing.T) {
	t.Parallel()
	e := mustDefault(t)
	chain := func() []corev1.EnvVar {
		env := []corev1.EnvVar{lit("DEFAULT_DB", "postgres"), lit("POSTGRES_PASSWORD", "$(DEFAULT_DB)"), lit("V0", "xxxxxxxxxxxxxxxx")}
		for i := 1; i <= 60; i++ {
			env = append(env, lit(fmt.Sprintf("V%d", i), fmt.Sprintf("$(V%d)$(V%d)", i-1, i-1)))
		}
		return env
	}
	o := podWithEnv(chain()...)
	// 61 containers of 63 entries: under the 4,096 entries an object may
	// have (limits.go), far over what expansion may write.
	for i := 0; i < 60; i++ {
		o.Spec.Containers = append(o.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: "c:1", Env: chain()})
	}
	d := e.Evaluate(o)
	if len(d.Violations) == 0 || d.Violations[0].Env != "POSTGRES_PASSWORD" || d.Violations[0].Container != "app" {
		t.Fatalf("the rename in the first container is not reported: %+v", d.Violations)
	}
	// Within the budget, every container's rename is judged.
	if n := len(d.Violations); n < expansionBudget/(256<<10) {
		t.Errorf("%d renames reported, want at least %d", n, expansionBudget/(256<<10))
	}
}
