package main

import (
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// restConfig returns the cluster's client config: --kubeconfig when set, the
// pod's service account in a cluster, or nil when neither is there (a local
// run without a cluster: namespace labels are then unknown).
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return nil, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("cluster config: %w", err)
	}
	cfg.UserAgent = "wisp-webhook/" + version
	return cfg, nil
}
