package webhook

import (
	"errors"
	"net/http"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// NamespaceCache serves namespace labels from an informer: the admission path
// reads a local cache and never calls the API server. Start the returned
// factory, and gate readiness on Ready.
type NamespaceCache struct {
	lister corev1listers.NamespaceLister
	synced cache.InformerSynced
}

func NewNamespaceCache(client kubernetes.Interface) (*NamespaceCache, informers.SharedInformerFactory) {
	factory := informers.NewSharedInformerFactory(client, 0)
	inf := factory.Core().V1().Namespaces()
	return &NamespaceCache{lister: inf.Lister(), synced: inf.Informer().HasSynced}, factory
}

// Labels returns the labels of namespace ns, or nil when it is unknown.
func (c *NamespaceCache) Labels(ns string) map[string]string {
	n, err := c.lister.Get(ns)
	if err != nil {
		return nil
	}
	return n.Labels
}

// Ready fails until the cache has its first full list.
func (c *NamespaceCache) Ready(*http.Request) error {
	if !c.synced() {
		return errors.New("namespace cache not synced yet")
	}
	return nil
}
