package fetch

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// grants is what one run obtained from Vault and has not revoked yet: the
// tokens of its logins (and any token an answer carried) and the leases of
// the secrets it read. Retired ones (a token replaced by a new login, a
// lease replaced by a new read, or never handed to the app) are kept until
// they run out on their own, so that the app's open connections survive a
// rotation, and revoked with the rest when the run ends. It is owned by the
// run's goroutine.
type grants struct {
	tokens []*tokenGrant
	leases []*leaseGrant
}

// tokenGrant is a Vault token of the run.
type tokenGrant struct {
	token secretString
	// expires is when the token runs out unless renewed; zero for a token
	// without TTL.
	expires time.Time
	// retired: replaced by a newer login; no longer renewed.
	retired bool
}

// leaseGrant is a lease of the run.
type leaseGrant struct {
	id   string
	name string // the plan entry it was read for
	// token is the token that read it: revoking that token revokes the
	// lease too.
	token *tokenGrant
	// expires is when the lease runs out unless renewed; zero without TTL.
	expires time.Time
	// retired: replaced by a newer read, or never handed to the app; no
	// longer renewed.
	retired bool
}

// expiry is now+ttl, or zero for no TTL.
func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

func (g *grants) addToken(tok secretString, expires time.Time) *tokenGrant {
	t := &tokenGrant{token: tok, expires: expires}
	g.tokens = append(g.tokens, t)
	return t
}

func (g *grants) addLease(id, name string, by *tokenGrant, expires time.Time) *leaseGrant {
	l := &leaseGrant{id: id, name: name, token: by, expires: expires}
	g.leases = append(g.leases, l)
	return l
}

// empty reports whether there is nothing to revoke.
func (g *grants) empty() bool { return len(g.tokens) == 0 && len(g.leases) == 0 }

// prune forgets the retired grants that have run out on their own, which
// Vault has revoked already: a token past its expiry, with every lease it
// read, and a lease past its expiry. Grants in use are kept whatever their
// recorded expiry, which renewals move.
func (g *grants) prune(now time.Time) {
	gone := func(exp time.Time) bool { return !exp.IsZero() && !now.Before(exp) }
	dead := map[*tokenGrant]bool{}
	g.tokens = slices.DeleteFunc(g.tokens, func(t *tokenGrant) bool {
		dead[t] = t.retired && gone(t.expires)
		return dead[t]
	})
	g.leases = slices.DeleteFunc(g.leases, func(l *leaseGrant) bool {
		return dead[l.token] || (l.retired && gone(l.expires))
	})
}

// revokeAll revokes every grant within timeout and forgets them: each
// lease through sys/leases/revoke (which a role's policy may not grant),
// then each token with auth/token/revoke-self (in Vault's default policy),
// which also revokes every lease read with it. Failures are logged: what
// is left ends at its TTL. The client has no token afterwards.
func (f *Fetcher) revokeAll(g *grants, timeout time.Duration) {
	if g.empty() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	log := f.log
	leaseDone := map[*leaseGrant]bool{}
	if f.vault.Token() != "" {
		for _, l := range g.leases {
			if err := f.vault.Sys().RevokeWithContext(ctx, l.id); err != nil {
				e := vaultError("revoke lease "+l.id, f.vaultContext(stepOther, "", ""), err, &f.sc)
				log.Debug("lease not revoked; revoking its token revokes it", "name", l.name, "leaseID", l.id, "err", e.Err.Error())
				continue
			}
			leaseDone[l] = true
			log.Info("lease revoked", "name", l.name, "leaseID", l.id)
		}
	}
	tokenDone := map[*tokenGrant]bool{}
	for _, t := range g.tokens {
		if err := f.revokeToken(ctx, t.token); err != nil {
			log.Warn("token not revoked; it and its leases end at their TTL", "retired", t.retired, "err", err.Error())
			continue
		}
		tokenDone[t] = true
		log.Info("token revoked", "retired", t.retired)
	}
	for _, l := range g.leases {
		if !leaseDone[l] && !tokenDone[l.token] {
			log.Warn("lease not revoked; it ends at its TTL", "name", l.name, "leaseID", l.id)
		}
	}
	f.vault.ClearToken()
	g.tokens, g.leases = nil, nil
}

// revokeToken revokes tok with auth/token/revoke-self, through a copy of
// the client so that the client's own token is untouched.
func (f *Fetcher) revokeToken(ctx context.Context, tok secretString) error {
	c, err := f.vault.CloneWithHeaders()
	if err != nil {
		return fmt.Errorf("copy the vault client: %w", err)
	}
	c.SetToken(tok.reveal())
	if err := c.Auth().Token().RevokeSelfWithContext(ctx, ""); err != nil {
		return vaultError("revoke token", f.vaultContext(stepOther, "", ""), err, &f.sc)
	}
	return nil
}
