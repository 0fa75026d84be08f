package certs

import (
	"crypto/x509"
	"fmt"
	"time"
)

// policy is what the auto mode's planner needs from AutoOptions.
type policy struct {
	hosts            []string
	caName           string
	caValidity       time.Duration
	certValidity     time.Duration
	renewFraction    float64
	caOverlap        time.Duration
	propagationDelay time.Duration
}

// step names one change plan makes to a chain, for logs.
type step string

const (
	stepCreate         step = "create CA and serving certificate"
	stepReplaceCA      step = "replace expired CA"
	stepDropNext       step = "drop expired successor CA"
	stepStageCA        step = "publish successor CA"
	stepPromoteCA      step = "sign with successor CA"
	stepRenewLeaf      step = "renew serving certificate"
	stepReissueLeaf    step = "reissue serving certificate"
	stepRewriteBundle  step = "update trust bundle"
	stepMarkPublished  step = "mark successor CA published"
	stepAdoptSecretRev step = "adopt secret"
)

// plan returns the chain that should be in the Secret at now, and the steps
// that lead there from cur; (nil, nil, nil) when cur needs no change. It is
// deterministic but for the keys and serial numbers it generates.
//
// The rotation, in order of the CA's life:
//   - the serving certificate is renewed after renewFraction of its life and
//     never outlives its CA;
//   - caOverlap before the CA expires, a successor CA is generated and added
//     to the trust bundle, but signs nothing yet;
//   - once the injector has seen the successor in every webhook configuration
//     (nextPublishedAt) and propagationDelay has passed, the successor becomes
//     the signing CA and a new serving certificate is issued from it;
//   - the previous CA stays in the bundle until it expires, so that replicas
//     still serving its certificate keep being trusted.
//
// An expired CA is replaced at once: nothing it signed verifies any more.
func (p policy) plan(cur *chain, now time.Time) (*chain, []step, error) {
	if cur == nil {
		ca, err := p.newCA(now)
		if err != nil {
			return nil, nil, err
		}
		leaf, err := p.issue(ca, now)
		if err != nil {
			return nil, nil, err
		}
		return &chain{leaf: leaf, ca: ca, bundle: []*x509.Certificate{ca.cert}, revision: cur.nextRevision()}, []step{stepCreate}, nil
	}
	n := *cur
	var steps []step
	reissue := false
	if n.next != nil && !now.Before(n.next.cert.NotAfter) {
		n.next, n.nextPublishedAt = nil, time.Time{}
		steps = append(steps, stepDropNext)
	}
	switch {
	case !now.Before(cur.ca.cert.NotAfter):
		if n.next != nil {
			n.ca = n.next
		} else {
			ca, err := p.newCA(now)
			if err != nil {
				return nil, nil, err
			}
			n.ca = ca
		}
		n.next, n.nextPublishedAt = nil, time.Time{}
		reissue = true
		steps = append(steps, stepReplaceCA)
	case n.next == nil && !now.Before(caRenewAt(cur.ca.cert, p.caOverlap)):
		next, err := p.newCA(now)
		if err != nil {
			return nil, nil, err
		}
		n.next, n.nextPublishedAt = next, time.Time{}
		steps = append(steps, stepStageCA)
	case n.next != nil && !n.nextPublishedAt.IsZero() && !now.Before(n.nextPublishedAt.Add(p.propagationDelay)):
		n.ca, n.next, n.nextPublishedAt = n.next, nil, time.Time{}
		reissue = true
		steps = append(steps, stepPromoteCA)
	}

	leaf := cur.leaf.cert
	switch {
	case reissue:
	case !now.Before(leafRenewAt(leaf, p.renewFraction)):
		steps = append(steps, stepRenewLeaf)
		reissue = true
	case !coversHosts(leaf, p.hosts), leaf.CheckSignatureFrom(n.ca.cert) != nil:
		steps = append(steps, stepReissueLeaf)
		reissue = true
	}
	if reissue {
		l, err := p.issue(n.ca, now)
		if err != nil {
			return nil, nil, err
		}
		n.leaf = l
	}

	var next []*x509.Certificate
	if n.next != nil {
		next = []*x509.Certificate{n.next.cert}
	}
	n.bundle = mergeBundle(now, []*x509.Certificate{n.ca.cert}, next, cur.bundle, []*x509.Certificate{cur.ca.cert})
	if sameSet(n.bundle, cur.bundle) {
		n.bundle = cur.bundle
	} else if len(steps) == 0 {
		steps = append(steps, stepRewriteBundle)
	}
	if len(steps) == 0 {
		return nil, nil, nil
	}
	n.revision = cur.nextRevision()
	return &n, steps, nil
}

// published returns a copy of c recording that its successor CA was seen in
// every webhook configuration at now. The revision is unchanged: the trust
// bundle is.
func (c *chain) published(now time.Time) *chain {
	n := *c
	n.nextPublishedAt = now
	return &n
}

// nextRevision is the revision after c's; 1 for no chain.
func (c *chain) nextRevision() int64 {
	if c == nil {
		return 1
	}
	return c.revision + 1
}

// wakeAt is the next time plan may change c, so the caller can sleep until
// then.
func (p policy) wakeAt(c *chain) time.Time {
	t := earliest(
		leafRenewAt(c.leaf.cert, p.renewFraction),
		c.leaf.cert.NotAfter,
		c.ca.cert.NotAfter,
		earliestExpiry(c.bundle),
	)
	switch {
	case c.next == nil:
		t = earliest(t, caRenewAt(c.ca.cert, p.caOverlap))
	case !c.nextPublishedAt.IsZero():
		t = earliest(t, c.nextPublishedAt.Add(p.propagationDelay), c.next.cert.NotAfter)
	default:
		t = earliest(t, c.next.cert.NotAfter)
	}
	return t
}

func (p policy) newCA(now time.Time) (*keyPair, error) {
	ca, err := newCA(p.caName, now.Add(-backdate(p.caValidity)), now.Add(p.caValidity))
	if err != nil {
		return nil, fmt.Errorf("make CA: %w", err)
	}
	return ca, nil
}

func (p policy) issue(ca *keyPair, now time.Time) (*keyPair, error) {
	leaf, err := newLeaf(ca, p.hosts, now.Add(-backdate(p.certValidity)), now.Add(p.certValidity))
	if err != nil {
		return nil, fmt.Errorf("issue serving certificate: %w", err)
	}
	return leaf, nil
}

// sameSet reports whether a and b hold the same certificates, in any order.
func sameSet(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for _, c := range a {
		if !containsCert(b, c) {
			return false
		}
	}
	return true
}
