package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// RunSidecar fetches like Fetch, writes the readiness marker
// (<dir>/.wisp-ready) and then, until ctx is done, keeps the Vault token and
// every lease renewed: when renewal stops (a lease or the token nears its
// max TTL, or renewing fails) it reads the secret again (logging in again
// when the token ran out) and rewrites its file atomically; secrets without
// a lease (KV) are re-read every cfg.StaticRefresh and rewritten when they
// changed. Superseded leases and tokens are no longer renewed but are left
// to run out, so the app's open connections survive a rotation; they are
// remembered until then.
//
// When ctx is done it revokes every lease and token it obtained that has
// not run out yet, superseded ones included (within cfg.RevokeTimeout), and
// returns nil. It returns an error only when the first fetch fails (an
// error wrapping ErrStopped when ctx ends first); later failures are
// logged and retried.
func (f *Fetcher) RunSidecar(ctx context.Context) error {
	items, sess, g, err := f.fetchAll(ctx)
	if err != nil {
		return f.sc.scrubErr(err)
	}
	marker, _ := json.Marshal(map[string]any{"readyAt": f.now().UTC()})
	if _, err := writeFiles(f.cfg.Plan.Dir, []file{{name: ReadyFileName, data: append(marker, '\n'), mode: 0o444}}); err != nil {
		return f.sc.scrubErr(&Error{Op: "write readiness marker in " + f.cfg.Plan.Dir, Err: err,
			Hint: "check the wisp-secrets volume is writable"})
	}
	f.log.Info("sidecar ready", "marker", ReadyFileName)
	s := &sidecar{f: f, items: items, sess: sess, grants: g, events: make(chan event),
		watchers: map[int]*watcher{}, need: map[int]bool{}}
	return s.run(ctx)
}

// tokenKey is the watcher key of the token; items use their index.
const tokenKey = -1

type eventKind int

const (
	renewed eventKind = iota
	stopped
)

type event struct {
	kind   eventKind
	key    int
	gen    uint64
	secret *vault.Secret // renewed: the renewal, without data
	err    error         // stopped: why, if renewal failed
}

type watcher struct {
	w   *vault.LifetimeWatcher
	gen uint64
}

// sidecar is RunSidecar's state, owned by its one goroutine.
type sidecar struct {
	f     *Fetcher
	items []*item
	sess  *session
	// grants are every token and lease obtained and not run out or
	// revoked yet, superseded ones included.
	grants   *grants
	events   chan event
	watchers map[int]*watcher
	gen      uint64
	// needLogin and need are the work left to do after a failed attempt.
	needLogin bool
	need      map[int]bool
}

func (s *sidecar) run(ctx context.Context) error {
	// done ends the watchers' forwarders when run returns.
	done := make(chan struct{})
	defer close(done)
	s.watchToken(done)
	for i := range s.items {
		s.watchItem(i, done)
	}
	static := time.NewTimer(s.f.cfg.StaticRefresh)
	defer static.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			s.stopAll()
			s.revoke()
			return nil
		case ev := <-s.events:
			w := s.watchers[ev.key]
			if w == nil || w.gen != ev.gen {
				continue // a stopped watcher's last word
			}
			s.handle(ev)
		case <-static.C:
			for i, it := range s.items {
				if it.meta.LeaseID == "" {
					s.need[i] = true
				}
			}
			static.Reset(s.f.cfg.StaticRefresh)
		case <-retry.C:
		}
		if s.pending() {
			if !s.process(ctx, done) && ctx.Err() == nil {
				retry.Reset(s.f.cfg.MaxBackoff)
			}
		}
	}
}

func (s *sidecar) handle(ev event) {
	log := s.f.log
	switch {
	case ev.kind == renewed && ev.key == tokenKey:
		if ev.secret != nil && ev.secret.Auth != nil {
			ttl := time.Duration(ev.secret.Auth.LeaseDuration) * time.Second
			s.sess.grant.expires = expiry(s.f.now(), ttl)
			log.Info("token renewed", "ttl", ttl.String())
		}
	case ev.kind == renewed:
		it := s.items[ev.key]
		if ev.secret == nil {
			return
		}
		now := s.f.now().UTC()
		exp := now.Add(time.Duration(ev.secret.LeaseDuration) * time.Second)
		it.meta.LeaseDuration, it.meta.Renewable, it.meta.RenewedAt, it.meta.ExpiresAt =
			ev.secret.LeaseDuration, ev.secret.Renewable, &now, &exp
		if it.lease != nil {
			it.lease.expires = expiry(now, time.Duration(ev.secret.LeaseDuration)*time.Second)
		}
		log.Info("lease renewed", "name", it.spec.Name, "leaseID", it.meta.LeaseID, "ttl", ev.secret.LeaseDuration)
		s.writeMeta(it)
	case ev.key == tokenKey:
		log.Info("token renewal stopped; logging in again", "err", s.f.sc.scrub(errString(ev.err)))
		delete(s.watchers, tokenKey)
		s.needLogin = true
	default:
		it := s.items[ev.key]
		log.Info("lease renewal stopped; reading again", "name", it.spec.Name, "leaseID", it.meta.LeaseID, "err", s.f.sc.scrub(errString(ev.err)))
		delete(s.watchers, ev.key)
		s.need[ev.key] = true
	}
}

func (s *sidecar) pending() bool { return s.needLogin || len(s.need) > 0 }

// process does the pending work within the deadline and reports whether it
// all succeeded; what failed stays pending.
func (s *sidecar) process(ctx context.Context, done <-chan struct{}) bool {
	ctx, cancel := context.WithTimeout(ctx, s.f.cfg.Deadline)
	defer cancel()
	log := s.f.log
	s.grants.prune(s.f.now())
	if s.needLogin {
		sess, err := s.f.login(ctx, s.grants)
		if err != nil {
			log.Error("login failed; will retry", "err", s.f.sc.scrub(err.Error()))
			return false
		}
		s.sess.grant.retired = true // revoked at shutdown unless it runs out first
		s.sess, s.needLogin = sess, false
		s.watchToken(done)
		// Leases live no longer than the token that made them.
		for i, it := range s.items {
			if it.meta.LeaseID != "" {
				s.need[i] = true
			}
		}
	}
	ok := true
	for i := range s.items {
		if !s.need[i] {
			continue
		}
		old := s.items[i]
		it, err := s.f.read(ctx, old.spec, s.sess, s.grants)
		if err != nil {
			log.Error("refresh failed; will retry", "name", old.spec.Name, "err", s.f.sc.scrub(err.Error()))
			ok = false
			continue
		}
		if old.meta.LeaseID == "" && it.meta.LeaseID == "" && bytes.Equal(old.content, it.content) {
			delete(s.need, i) // unchanged KV: nothing to write
			continue
		}
		if err := s.f.write([]*item{it}); err != nil {
			log.Error("rewrite failed; will retry", "name", it.spec.Name, "err", s.f.sc.scrub(err.Error()))
			if it.lease != nil {
				it.lease.retired = true // never handed to the app
			}
			ok = false
			continue
		}
		log.Info("secret rewritten", "name", it.spec.Name, "leaseID", it.meta.LeaseID)
		if old.lease != nil {
			old.lease.retired = true // revoked at shutdown unless it runs out first
		}
		s.items[i] = it
		delete(s.need, i)
		s.stopWatcher(i)
		s.watchItem(i, done)
	}
	return ok
}

// watchToken starts renewing the current token.
func (s *sidecar) watchToken(done <-chan struct{}) {
	s.stopWatcher(tokenKey)
	sec := &vault.Secret{Auth: &vault.SecretAuth{
		ClientToken: s.sess.token.reveal(), Renewable: s.sess.renewable, LeaseDuration: int(s.sess.ttl / time.Second),
	}}
	if s.sess.ttl <= 0 {
		return // a root-like token without TTL: nothing to renew
	}
	s.start(tokenKey, sec, done)
}

// watchItem starts renewing item i's lease, or watching it run out when it
// cannot be renewed. Items without a lease are refreshed on a timer.
func (s *sidecar) watchItem(i int, done <-chan struct{}) {
	m := s.items[i].meta
	if m.LeaseID == "" || m.LeaseDuration <= 0 {
		return
	}
	s.start(i, &vault.Secret{LeaseID: m.LeaseID, LeaseDuration: m.LeaseDuration, Renewable: m.Renewable}, done)
}

func (s *sidecar) start(key int, sec *vault.Secret, done <-chan struct{}) {
	w, err := s.f.vault.NewLifetimeWatcher(&vault.LifetimeWatcherInput{Secret: sec})
	if err != nil {
		// Only for a nil input, which cannot happen here.
		s.f.log.Error("start lifetime watcher", "err", err.Error())
		return
	}
	s.gen++
	gen := s.gen
	s.watchers[key] = &watcher{w: w, gen: gen}
	go w.Start()
	go func() {
		send := func(ev event) bool {
			select {
			case s.events <- ev:
				return true
			case <-done:
				return false
			}
		}
		for {
			select {
			case r := <-w.RenewCh():
				var sec *vault.Secret
				if r != nil && r.Secret != nil {
					// Keep only the lease fields: never carry data around.
					sec = &vault.Secret{LeaseID: r.Secret.LeaseID, LeaseDuration: r.Secret.LeaseDuration, Renewable: r.Secret.Renewable}
					if r.Secret.Auth != nil {
						sec.Auth = &vault.SecretAuth{LeaseDuration: r.Secret.Auth.LeaseDuration, Renewable: r.Secret.Auth.Renewable}
					}
				}
				if !send(event{kind: renewed, key: key, gen: gen, secret: sec}) {
					return
				}
			case err := <-w.DoneCh():
				send(event{kind: stopped, key: key, gen: gen, err: err})
				return
			case <-done:
				return
			}
		}
	}()
}

func (s *sidecar) stopWatcher(key int) {
	if w := s.watchers[key]; w != nil {
		w.w.Stop()
		delete(s.watchers, key)
	}
}

func (s *sidecar) stopAll() {
	for k := range s.watchers {
		s.stopWatcher(k)
	}
}

// writeMeta rewrites an item's metadata file after a renewal; a failure
// only costs freshness of the metadata, so it is logged.
func (s *sidecar) writeMeta(it *item) {
	b, err := json.Marshal(it.meta)
	if err == nil {
		_, err = writeFiles(s.f.cfg.Plan.Dir, []file{{name: MetaFileName(it.spec.Name), data: append(b, '\n'), mode: 0o444}})
	}
	if err != nil {
		s.f.log.Warn("rewrite metadata", "name", it.spec.Name, "err", s.f.sc.scrub(err.Error()))
	}
}

// revoke revokes every lease and token the sidecar obtained and that has
// not run out yet, superseded ones included: the leases, then the tokens
// (which also revokes every lease made with them, for policies that do not
// grant sys/leases/revoke).
func (s *sidecar) revoke() {
	s.grants.prune(s.f.now())
	s.f.log.Info("revoking", "tokens", len(s.grants.tokens), "leases", len(s.grants.leases))
	s.f.revokeAll(s.grants, s.f.cfg.RevokeTimeout)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
