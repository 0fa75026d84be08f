package mutate

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// socketVolume is the SPIFFE CSI driver's ephemeral inline volume, which
// exposes the Workload API socket read-only.
func socketVolume(cfg Config) corev1.Volume {
	return corev1.Volume{
		Name: SocketVolumeName,
		VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{
			Driver:   cfg.CSIDriver,
			ReadOnly: ptr(true),
		}},
	}
}

// secretsVolume is the memory-backed emptyDir the secrets are written to:
// never on a node's disk, gone with the pod.
func secretsVolume(cfg Config) corev1.Volume {
	size := cfg.VolumeSizeLimit.DeepCopy()
	return corev1.Volume{
		Name: SecretsVolumeName,
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium:    corev1.StorageMediumMemory,
			SizeLimit: &size,
		}},
	}
}

// binVolume holds the exec shim (a copy of the wisp-fetch binary, tens of
// MB): on disk, not memory, so it does not count against the pod's memory.
func binVolume() corev1.Volume {
	size := resource.MustParse("64Mi")
	return corev1.Volume{
		Name:         BinVolumeName,
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &size}},
	}
}
