package config

import (
	"strings"
	"testing"
)

const header = "apiVersion: wisp.dev/v1alpha1\nkind: Policy\n"

// TestParseReportsEveryProblem: a file with several problems of different
// kinds (unknown, duplicate or mistyped fields, bad values) gets one error
// that names each of them by its field path.
func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string
		want    []string
		notWant []string
	}{
		{
			name: "unknown field and bad mode",
			file: header + "mode: block\nnamespacs: {}\n",
			want: []string{`unknown field "namespacs"`, "mode:", `"block"`},
		},
		{
			name: "a mount root over a system folder",
			file: header + "injection:\n  mountRoots: [/data, /etc]\n",
			want: []string{`mountRoots[1] "/etc": "/etc" would hide the system folder /etc`},
		},
		{
			name: "unknown injection field and bad pull policy",
			file: header + "injection:\n  imagePulPolicy: Always\n  imagePullPolicy: Sometimes\n",
			want: []string{`unknown field "injection.imagePulPolicy"`, `imagePullPolicy "Sometimes"`},
		},
		{
			name: "several unknown fields and several bad values",
			file: header + `injection:
  vaultAdr: https://vault:8200
  runAsUser: 0
mode: block
namespacs: {}
exemptPod: {}
rules:
  disabled: [nope]
roles:
- namespaces: [team-a]
  roles: [app]
  role: admin
exemptPods:
  selector:
    matchLabel: {a: b}
`,
			want: []string{
				`unknown field "injection.vaultAdr"`, `unknown field "namespacs"`, `unknown field "exemptPod"`,
				`unknown field "roles[0].role"`, `unknown field "exemptPods.selector.matchLabel"`,
				"runAsUser 0", "mode:", "rules.disabled[0]",
			},
		},
		{
			name: "wrong kind, unknown field and bad value",
			file: "apiVersion: wisp.dev/v1alpha1\nkind: Config\ninjektion: {}\nmode: block\n",
			want: []string{`kind "Config"`, `unknown field "injektion"`, "mode:"},
		},
		{
			name: "duplicate key, unknown field and bad value",
			file: header + "mode: warn\nmode: audit\nnamespacs: {}\ninjection:\n  imagePullPolicy: Sometimes\n",
			want: []string{`"mode" already set`, `unknown field "namespacs"`, "imagePullPolicy"},
		},
		{
			// 12345 did not decode: it is not also reported as an empty value.
			name:    "mistyped value and unknown fields",
			file:    header + "allow:\n  values: [12345]\ninjection:\n  vaultAdr: x\nnamespacs: {}\n",
			want:    []string{"allow.values", `unknown field "injection.vaultAdr"`, `unknown field "namespacs"`},
			notWant: []string{"empty value"},
		},
		{
			// A map where a list is expected: the keys around it are still
			// checked.
			name: "value of the wrong shape and unknown fields",
			file: header + "allow:\n  names: {a: b}\n  valus: []\nroles:\n- namespaces: {a: b}\n  role: x\n- roles: [r]\n  namespace: [a]\nexempPods: {}\n",
			want: []string{"allow.names", `unknown field "allow.valus"`, `unknown field "roles[0].role"`, `unknown field "roles[1].namespace"`, `unknown field "exempPods"`},
		},
		{
			// Matched case-insensitively, MODE would override mode unseen.
			name: "key in the wrong case",
			file: header + "mode: enforce\nMODE: audit\nrules:\n  disabled: [nope]\n",
			want: []string{`unknown field "MODE"`, "rules.disabled[0]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap, err := Parse([]byte(tt.file))
			if err == nil {
				t.Fatalf("Parse: no error, want one naming %q", tt.want)
			}
			if snap != nil {
				t.Error("Parse returned a snapshot with an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %s:\n%v", w, err)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error mentions %s:\n%v", w, err)
				}
			}
		})
	}
}

// TestParseErrorsHideAllowedValues: allowed values are secrets; reporting
// every problem must not show them, nor pieces of them.
func TestParseErrorsHideAllowedValues(t *testing.T) {
	t.Parallel()
	const canary = "Zq7Xw3Kp9Lm2Canary"
	file := header + `mode: block
namespacs: {}
allow:
  valus: [x]
  values: ["` + canary + `", " "]
  valuePatterns: ["(` + canary + `"]
injection:
  imagePullPolicy: Sometimes
`
	_, err := Parse([]byte(file))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"allow.values[1]", "allow.valuePatterns[0]", `unknown field "allow.valus"`, `unknown field "namespacs"`, "mode:", "imagePullPolicy"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %s:\n%v", w, err)
		}
	}
	for _, piece := range []string{canary, canary[:8], canary[len(canary)-8:]} {
		if strings.Contains(err.Error(), piece) {
			t.Errorf("error shows an allowed value (piece %q):\n%v", piece, err)
		}
	}
}

func TestParseAcceptsAGoodFile(t *testing.T) {
	t.Parallel()
	snap, err := Parse([]byte(header + `injection:
  image: example.com/fetch:v1
  runAsUser: 1000
  vaultAddr: https://vault.example:8200
mode: warn
allow:
  values: ["12345", "on"]
namespaces:
  modes: {legacy: audit}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Injection.Image; got != "example.com/fetch:v1" {
		t.Errorf("image %q", got)
	}
	if got := *snap.Injection.RunAsUser; got != 1000 {
		t.Errorf("runAsUser %d", got)
	}
}

func TestParseRefusesWhatIsNotAPolicy(t *testing.T) {
	t.Parallel()
	for name, file := range map[string]string{
		"not yaml":      "{{{",
		"a list":        "- a\n- b\n",
		"empty":         "",
		"wrong version": "apiVersion: wisp.dev/v1\nkind: Policy\n",
	} {
		if _, err := Parse([]byte(file)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
