package certs

import (
	"crypto/x509"
	"slices"
	"testing"
	"time"
)

const day = 24 * time.Hour

func testPolicy() policy {
	return policy{
		hosts:            ServiceHosts("wisp", "wisp-system"),
		caName:           "test CA",
		caValidity:       365 * day,
		certValidity:     90 * day,
		renewFraction:    2.0 / 3,
		caOverlap:        365 * day / 3,
		propagationDelay: time.Minute,
	}
}

// mustPlan runs plan and checks the steps it reports.
func mustPlan(t *testing.T, p policy, cur *chain, now time.Time, want ...step) *chain {
	t.Helper()
	next, steps, err := p.plan(cur, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(steps, want) {
		t.Fatalf("at %s: steps %q, want %q", now, steps, want)
	}
	if len(want) == 0 {
		if next != nil {
			t.Fatalf("at %s: no steps but a new chain", now)
		}
		return cur
	}
	if next.revision != cur.nextRevision() {
		t.Errorf("revision %d, want %d", next.revision, cur.nextRevision())
	}
	checkChain(t, p, next, now)
	return next
}

// checkChain asserts what every chain plan returns must satisfy.
func checkChain(t *testing.T, p policy, c *chain, now time.Time) {
	t.Helper()
	if err := c.leaf.cert.CheckSignatureFrom(c.ca.cert); err != nil {
		t.Errorf("at %s: leaf not signed by the signing CA: %v", now, err)
	}
	if !coversHosts(c.leaf.cert, p.hosts) {
		t.Errorf("at %s: leaf does not name %v", now, p.hosts)
	}
	if !now.Before(c.leaf.cert.NotAfter) || now.Before(c.leaf.cert.NotBefore) {
		t.Errorf("at %s: leaf not valid (%s to %s)", now, c.leaf.cert.NotBefore, c.leaf.cert.NotAfter)
	}
	if c.leaf.cert.NotAfter.After(c.ca.cert.NotAfter) {
		t.Errorf("at %s: leaf outlives its CA", now)
	}
	if !containsCert(c.bundle, c.ca.cert) {
		t.Errorf("at %s: bundle lacks the signing CA", now)
	}
	if c.next != nil && !containsCert(c.bundle, c.next.cert) {
		t.Errorf("at %s: bundle lacks the successor CA", now)
	}
	for _, b := range c.bundle {
		if !now.Before(b.NotAfter) {
			t.Errorf("at %s: bundle keeps expired %s", now, b.Subject.CommonName)
		}
	}
}

func TestPlanWalksTheCALifecycle(t *testing.T) {
	t.Parallel()
	p := testPolicy()

	c := mustPlan(t, p, nil, t0, stepCreate)
	if c.revision != 1 || len(c.bundle) != 1 || c.next != nil {
		t.Fatalf("new chain: revision %d, bundle %d, next %v", c.revision, len(c.bundle), c.next != nil)
	}
	if got := c.leaf.cert.NotAfter; !got.Equal(t0.Add(90 * day)) {
		t.Errorf("leaf NotAfter %s, want %s", got, t0.Add(90*day))
	}
	ca1 := c.ca.cert
	mustPlan(t, p, c, t0.Add(day))

	// The serving certificate renews at 2/3 of its life, from the same CA.
	renew := leafRenewAt(c.leaf.cert, p.renewFraction)
	if w := p.wakeAt(c); !w.Equal(renew) {
		t.Errorf("wakeAt %s, want the leaf's renewal %s", w, renew)
	}
	mustPlan(t, p, c, renew.Add(-time.Second))
	leaf1 := c.leaf.cert
	c = mustPlan(t, p, c, renew, stepRenewLeaf)
	if c.leaf.cert.Equal(leaf1) || !c.ca.cert.Equal(ca1) {
		t.Fatal("renewal did not replace the leaf, or changed the CA")
	}

	// Walk leaf renewals up to the CA's renewal.
	stage := caRenewAt(ca1, p.caOverlap)
	now := renew
	for {
		w := p.wakeAt(c)
		if !w.Before(stage) {
			break
		}
		now = w
		c = mustPlan(t, p, c, now, stepRenewLeaf)
	}
	if w := p.wakeAt(c); !w.Equal(stage) {
		t.Fatalf("wakeAt %s, want the CA's renewal %s", w, stage)
	}

	// Staging: the successor joins the bundle but signs nothing.
	leafBefore := c.leaf.cert
	c = mustPlan(t, p, c, stage, stepStageCA)
	if c.next == nil || !c.ca.cert.Equal(ca1) || !c.leaf.cert.Equal(leafBefore) {
		t.Fatal("staging changed the signing CA or the leaf, or made no successor")
	}
	if len(c.bundle) != 2 {
		t.Fatalf("bundle during overlap has %d CAs, want 2", len(c.bundle))
	}
	ca2 := c.next.cert
	// Not published: it never signs, however long we wait (short of expiry).
	mustPlan(t, p, c, stage.Add(time.Hour))

	// Published: it signs after the propagation delay.
	published := stage.Add(2 * time.Hour)
	c = c.published(published)
	if w := p.wakeAt(c); !w.Equal(published.Add(p.propagationDelay)) {
		t.Errorf("wakeAt %s, want publication + delay %s", w, published.Add(p.propagationDelay))
	}
	mustPlan(t, p, c, published.Add(p.propagationDelay-time.Second))
	promote := published.Add(p.propagationDelay)
	c = mustPlan(t, p, c, promote, stepPromoteCA)
	if !c.ca.cert.Equal(ca2) || c.next != nil || !c.nextPublishedAt.IsZero() {
		t.Fatal("promotion did not make the successor the signing CA")
	}
	if err := c.leaf.cert.CheckSignatureFrom(ca2); err != nil {
		t.Fatalf("leaf after promotion not from the new CA: %v", err)
	}
	if !containsCert(c.bundle, ca1) {
		t.Fatal("old CA left the bundle before it expired")
	}

	// The old CA leaves the bundle when it expires.
	if w := p.wakeAt(c); w.After(ca1.NotAfter) {
		t.Errorf("wakeAt %s is after the old CA's expiry %s", w, ca1.NotAfter)
	}
	for now = promote; ; {
		w := p.wakeAt(c)
		if w.After(ca1.NotAfter) {
			t.Fatalf("wakeAt %s skips the old CA's expiry %s", w, ca1.NotAfter)
		}
		now = w
		next, _, err := p.plan(c, now)
		if err != nil {
			t.Fatal(err)
		}
		checkChain(t, p, next, now)
		c = next
		if !now.Before(ca1.NotAfter) {
			break
		}
		if !containsCert(c.bundle, ca1) {
			t.Fatalf("at %s: old CA left the bundle before it expired", now)
		}
	}
	if len(c.bundle) != 1 || !c.bundle[0].Equal(ca2) {
		t.Fatalf("bundle after the old CA expired: %v", names(c.bundle))
	}
}

func TestPlanReplacesAnExpiredCA(t *testing.T) {
	t.Parallel()
	p := testPolicy()
	c := mustPlan(t, p, nil, t0, stepCreate)
	late := c.ca.cert.NotAfter.Add(day) // say the webhook was down for a year
	n := mustPlan(t, p, c, late, stepReplaceCA)
	if n.ca.cert.Equal(c.ca.cert) {
		t.Fatal("CA not replaced")
	}
	if len(n.bundle) != 1 {
		t.Errorf("bundle keeps %d CAs, want only the new one", len(n.bundle))
	}
}

func TestPlanPromotesAStagedCAWhenTheOldOneExpires(t *testing.T) {
	t.Parallel()
	p := testPolicy()
	c := mustPlan(t, p, nil, t0, stepCreate)
	stage := caRenewAt(c.ca.cert, p.caOverlap)
	c = mustPlan(t, p, c, stage, stepStageCA, stepRenewLeaf)
	next := c.next.cert
	// Never published (say the configurations could not be patched), and
	// the old CA expires: the successor is the only usable CA.
	c = mustPlan(t, p, c, c.ca.cert.NotAfter, stepReplaceCA)
	if !c.ca.cert.Equal(next) {
		t.Error("expired CA not replaced by its successor")
	}
}

func TestPlanReissuesForNewHosts(t *testing.T) {
	t.Parallel()
	p := testPolicy()
	c := mustPlan(t, p, nil, t0, stepCreate)
	p.hosts = append(p.hosts, "127.0.0.1")
	n := mustPlan(t, p, c, t0.Add(time.Hour), stepReissueLeaf)
	if !n.ca.cert.Equal(c.ca.cert) {
		t.Error("reissue changed the CA")
	}
}

func TestPlanRepairsABundleMissingItsCA(t *testing.T) {
	t.Parallel()
	p := testPolicy()
	c := mustPlan(t, p, nil, t0, stepCreate)
	broken := *c
	broken.bundle = nil
	n := mustPlan(t, p, &broken, t0.Add(time.Hour), stepRewriteBundle)
	if !n.leaf.cert.Equal(c.leaf.cert) {
		t.Error("repairing the bundle reissued the leaf")
	}
}

// TestPlanNeverStrandsAServedCertificate simulates two years with short
// steps: a replica still serving the previous leaf must find that leaf's CA
// in the current bundle for as long as the leaf is valid, and a CA must be
// in the published bundle for the propagation delay before it signs.
func TestPlanNeverStrandsAServedCertificate(t *testing.T) {
	t.Parallel()
	p := testPolicy()
	p.caValidity, p.certValidity, p.caOverlap, p.propagationDelay = 30*day, 7*day, 10*day, time.Hour
	now := t0
	c := mustPlan(t, p, nil, now, stepCreate)
	var served []*x509.Certificate // leaves handed out so far
	publishedAt := map[string]time.Time{string(c.ca.cert.Raw): now}
	served = append(served, c.leaf.cert)
	end := t0.Add(2 * 365 * day)
	for now.Before(end) {
		now = now.Add(2*time.Hour + 13*time.Minute)
		next, _, err := p.plan(c, now)
		if err != nil {
			t.Fatal(err)
		}
		if next == nil {
			continue // nothing changed: the checks below passed last time
		}
		c = next
		checkChain(t, p, c, now)
		// The injector publishes the bundle; record when each CA first
		// appeared, then mark the successor published.
		for _, b := range c.bundle {
			if _, ok := publishedAt[string(b.Raw)]; !ok {
				publishedAt[string(b.Raw)] = now
			}
		}
		if c.next != nil && c.nextPublishedAt.IsZero() {
			c = c.published(now)
		}
		if !served[len(served)-1].Equal(c.leaf.cert) {
			// A new leaf: its CA must have been published for the delay.
			at := publishedAt[string(c.ca.cert.Raw)]
			if now.Sub(at) < p.propagationDelay {
				t.Fatalf("at %s: new leaf's CA published only %s ago", now, now.Sub(at))
			}
			served = append(served, c.leaf.cert)
		}
		for _, l := range served {
			if now.Before(l.NotAfter) && !slices.ContainsFunc(c.bundle, func(ca *x509.Certificate) bool { return l.CheckSignatureFrom(ca) == nil }) {
				t.Fatalf("at %s: a valid served leaf (until %s) is no longer trusted by the bundle", now, l.NotAfter)
			}
		}
	}
	if len(served) < 100 {
		t.Errorf("only %d leaves in two years of 7-day certificates", len(served))
	}
	cas := map[string]bool{}
	for _, l := range served {
		cas[string(l.AuthorityKeyId)] = true
	}
	if len(cas) < 20 {
		t.Errorf("only %d CAs signed in two years of 30-day CAs", len(cas))
	}
}
