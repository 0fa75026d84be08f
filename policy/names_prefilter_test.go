package policy

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestMaySecretNameNeverHidesASecretName: the prefilter may let a name
// through that has no secret word, never the reverse. Checked on every
// name of both corpora, the real-world labels, and their case variants.
func TestMaySecretNameNeverHidesASecretName(t *testing.T) {
	t.Parallel()
	var names []string
	for _, f := range []string{"testdata/corpus/positive.txt", "testdata/corpus/benign.txt"} {
		for _, c := range readCorpus(t, f) {
			names = append(names, c.name)
		}
	}
	f, err := os.Open("testdata/realworld/labels.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if cols := strings.Split(sc.Text(), "\t"); len(cols) > 3 {
			names = append(names, cols[3])
		}
	}
	names = append(names, "dbPassword", "clientSecret", "APIKey", "x-api-key", "Pwd", "userPW", "Signature", "sig",
		"ERLANG_COOKIE", "HMAC_SALT", "WALLET_MNEMONIC", "PEPPER", "SEED", "GOOGLE_CREDS", "signingKeys", "GITHUB_TOKEN")
	n := 0
	for _, name := range names {
		for _, v := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
			for _, kv := range []bool{false, true} {
				if _, ok := secretWordOf(v, kv); ok {
					n++
					if !maySecretName(v, kv) {
						t.Errorf("maySecretName(%q, %v) = false for a secret name", v, kv)
					}
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d secret names checked", n)
	}
}

func FuzzMaySecretName(f *testing.F) {
	for _, s := range []string{"DB_PASSWORD", "apiKey", "sig", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, kv := range []bool{false, true} {
			if _, ok := secretWordOf(name, kv); ok && !maySecretName(name, kv) {
				t.Fatalf("maySecretName(%q, %v) = false for a secret name", name, kv)
			}
		}
	})
}
