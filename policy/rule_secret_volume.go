package policy

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Rule secret-volume (off by default: the stricter stance).
//
// Detects: a pod that mounts a Kubernetes Secret as a volume: a secret
// volume, or a projected volume with a secret source.
// Reads: spec.volumes[*].secret, spec.volumes[*].projected.sources[*].secret.
// Allowed: a projected serviceAccountToken (a token the kubelet requests,
// not a Secret), configMap, downwardAPI and every other volume; Secrets on
// allow.secrets (reported in Decision.Allowed).
// Example (flagged):
//
//	volumes:
//	- name: tls
//	  secret: {secretName: web-tls}
//
// The violation's Env is "volume:<volume name>"; its Container is empty.
func secretVolumeRule() Rule {
	return Rule{
		ID:         RuleSecretVolume,
		Summary:    "the pod mounts a Kubernetes Secret as a volume (volumes[].secret, or a projected volume's secret source)",
		Since:      ruleSecretVolumeSince,
		Remedy:     "fetch it from Vault with a wisp.dev/secret-<name> annotation instead (a file on a memory volume), or list the Secret in the policy's allow.secrets",
		DefaultOff: true,
		// Volumes are judged by scanner.secretVolumes, not entry by entry.
		check: func(*Evaluator, *item) string { return "" },
	}
}

// volumePrefix starts Violation.Env and Allowed.Env for a volume.
const volumePrefix = "volume:"

// secretVolumes judges the pod's Secret volumes, when rule secret-volume is on.
func (s *scanner) secretVolumes(vols []corev1.Volume) {
	e := s.e
	if len(vols) == 0 || !e.ruleEnabled(RuleSecretVolume) {
		return
	}
	var remedy string
	for _, r := range e.rules {
		if r.ID == RuleSecretVolume {
			remedy = r.Remedy
		}
	}
	report := func(v *corev1.Volume, field, secret, reason string) {
		if e.secretAllowed(s.ns, secret) {
			s.allow("", volumePrefix+v.Name, field, secret)
			return
		}
		s.out = append(s.out, Violation{RuleID: RuleSecretVolume, Env: volumePrefix + v.Name, Field: field, Reason: reason, Remedy: remedy})
	}
	for i := range vols {
		v := &vols[i]
		field := s.prefix + ".volumes[" + strconv.Itoa(i) + "]"
		if v.Secret != nil {
			report(v, field, v.Secret.SecretName, "mounts Secret "+strconv.Quote(v.Secret.SecretName))
		}
		if v.Projected == nil {
			continue
		}
		for k, src := range v.Projected.Sources {
			if src.Secret != nil {
				report(v, field+".projected.sources["+strconv.Itoa(k)+"]", src.Secret.Name,
					"projects Secret "+strconv.Quote(src.Secret.Name))
			}
		}
	}
}
