package mutate

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template/parse"

	"wisp.dev/wisp/plan"
)

// EffectiveAnnotations returns a pod's annotations as wisp reads them. With
// cfg.VaultAgentAnnotations on, each Vault Agent Injector alias (see
// VaultAlias) is copied to its wisp.dev/* key, unless the pod sets that key
// itself; otherwise annotations is returned as is. Callers that read wisp's
// annotations outside Inject (the policy's Vault role check, for one) read
// them from here, so that an alias cannot bypass them. The input is never
// modified.
func EffectiveAnnotations(annotations map[string]string, cfg Config) map[string]string {
	if !cfg.VaultAgentAnnotations {
		return annotations
	}
	out, _, _ := resolveVaultAliases(annotations)
	return out
}

// Role returns the Vault role that an opted-in pod's annotations name, as
// Inject writes it into the fetch plan: wisp.dev/role, or with
// cfg.VaultAgentAnnotations its alias when wisp's key is not set. It reads
// no other annotation and copies nothing: the admission path checks the
// role of a pod it just injected with it.
func Role(annotations map[string]string, cfg Config) string {
	v, ok := annotations[AnnotationRole]
	if !ok && cfg.VaultAgentAnnotations {
		v = annotations[VaultAnnotationRole]
	}
	return strings.TrimSpace(v)
}

// resolveVaultAliases returns a copy of annotations in which each Vault
// alias is copied to its wisp key (a wisp key already set wins), the origin
// of every copied key (wisp key -> Vault key, never nil), and an error for
// each refused Vault annotation (vaultRefused).
func resolveVaultAliases(annotations map[string]string) (map[string]string, map[string]string, []error) {
	out := make(map[string]string, len(annotations))
	origin := map[string]string{}
	var errs []error
	for k, v := range annotations {
		out[k] = v
	}
	for key, value := range annotations {
		if !strings.HasPrefix(key, VaultPrefix) {
			continue
		}
		if reason, refused := vaultRefusal(key); refused {
			errs = append(errs, &AnnotationError{Key: key, Reason: reason})
			continue
		}
		wk, ok := VaultAlias(key)
		if !ok {
			continue // not an alias: ignored, like any foreign annotation
		}
		if _, set := annotations[wk]; set {
			continue // the wisp key wins
		}
		if strings.HasPrefix(key, VaultAnnotationTemplatePrefix) {
			name := strings.TrimPrefix(key, VaultAnnotationTemplatePrefix)
			v, err := redelimit(value, annotations[VaultAnnotationLeftDelimPrefix+name], annotations[VaultAnnotationRightDelimPrefix+name])
			if err != nil {
				errs = append(errs, &AnnotationError{Key: key, Reason: err.Error()})
				continue
			}
			value = v
		}
		out[wk] = value
		origin[wk] = key
	}
	return out, origin, errs
}

func vaultRefusal(key string) (string, bool) {
	for _, r := range vaultRefused {
		if strings.HasPrefix(key, r.prefix) {
			return r.reason, true
		}
	}
	return "", false
}

// requested is Requested on resolved annotations: a wisp.dev/inject that
// came from vault.hashicorp.com/agent-inject accepts what the Vault Agent
// Injector accepts (strconv.ParseBool, and "" for false) and is reported
// under its own key.
func requested(annotations, origin map[string]string) (bool, error) {
	vk, aliased := origin[AnnotationInject]
	if !aliased {
		return Requested(annotations)
	}
	v := strings.TrimSpace(annotations[AnnotationInject])
	if v == "" {
		return false, nil // the Vault Agent Injector reads "" as false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &AnnotationError{Key: vk, Reason: fmt.Sprintf("%q is not \"true\" or \"false\"", trunc(annotations[AnnotationInject]))}
	}
	return b, nil
}

// refuseDelimText refuses a template with custom delimiters whose text
// holds the default ones.
const refuseDelimText = "its text holds {{ or }}, which wisp templates read as delimiters"

// redelimit rewrites a Consul Template text written with the delimiters
// left and right ("" for the default) into the same template with the
// default ones, {{ and }}, which translateVaultTemplate reads. Text that
// would read as an action with the default delimiters is refused. Its
// errors give a position and the kind of problem, never a word of the text.
func redelimit(text, left, right string) (string, error) {
	left, right = strings.TrimSpace(left), strings.TrimSpace(right)
	if (left == "" || left == "{{") && (right == "" || right == "}}") {
		return text, nil
	}
	refuse := func(err error) (string, error) {
		return "", fmt.Errorf("this Vault Agent template cannot be read with its delimiters: %w; %s", err, vaultTemplateHint)
	}
	trees := map[string]*parse.Tree{}
	t := parse.New(vaultTemplateName)
	t.Mode = parse.SkipFuncCheck | parse.ParseComments
	if _, err := t.Parse(text, left, right, trees); err != nil {
		return refuse(plan.RedactTemplateError(err))
	}
	if len(trees) > 1 {
		return refuse(errors.New(refuseDefines))
	}
	var bad error
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.TextNode:
			if bad == nil && (bytes.Contains(n.Text, []byte("{{")) || bytes.Contains(n.Text, []byte("}}"))) {
				tr := &vaultTranslator{text: text}
				bad = tr.at(n, refuseDelimText)
			}
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.IfNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.List)
			walk(n.ElseList)
		}
	}
	walk(t.Root)
	if bad != nil {
		return refuse(bad)
	}
	return t.Root.String(), nil
}
