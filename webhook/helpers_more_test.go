package webhook

import (
	"io"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"wisp.dev/wisp/config"
)

func defaults() config.Static { return config.Static{Snapshot: config.Default()} }

func ioPipe() (*io.PipeReader, *io.PipeWriter) { return io.Pipe() }

func metaKind(kind string) metav1.GroupVersionKind {
	return metav1.GroupVersionKind{Version: "v1", Kind: kind}
}
