package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// auditCounts are Vault's answers in a stretch of its audit log.
type auditCounts struct {
	logins, reads, leases, revocations, errors int
}

func auditSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("audit log: %w", err)
	}
	return fi.Size(), nil
}

// countAudit counts the responses logged from offset on: logins (at any
// auth mount), secret reads, leases created (a response with a lease id),
// revocations (of a token or a lease), errors.
func countAudit(path string, offset int64) (auditCounts, error) {
	var c auditCounts
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return c, fmt.Errorf("audit log: %w", err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Type    string
			Error   string
			Request struct {
				Path      string
				Operation string
			}
			Response struct {
				Auth *struct {
					Accessor string
				}
				Secret *struct {
					LeaseID string `json:"lease_id"`
				}
			}
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Type != "response" {
			continue
		}
		p := e.Request.Path
		switch {
		case e.Error != "":
			c.errors++
		case strings.HasPrefix(p, "auth/") && strings.HasSuffix(p, "/login") && e.Response.Auth != nil:
			c.logins++
		case strings.HasPrefix(p, "secret/data/") || strings.HasPrefix(p, "database/creds/"):
			c.reads++
			if e.Response.Secret != nil && e.Response.Secret.LeaseID != "" {
				c.leases++
			}
		case strings.Contains(p, "revoke"):
			c.revocations++
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("audit log: %w", err)
	}
	return c, nil
}

// left counts the tokens Vault still holds from logins at auth/<mount>
// with role, and the leases under prefix.
func (b *bench) left(ctx context.Context, mount, role, prefix string) (tokens, leases int, err error) {
	c, err := b.env.Stack.VaultClient()
	if err != nil {
		return 0, 0, err
	}
	list, err := c.Logical().ListWithContext(ctx, "auth/token/accessors")
	if err != nil {
		return 0, 0, fmt.Errorf("list token accessors: %w", err)
	}
	var keys []any
	if list != nil {
		keys, _ = list.Data["keys"].([]any)
	}
	for _, k := range keys {
		acc, _ := k.(string)
		sec, err := c.Auth().Token().LookupAccessorWithContext(ctx, acc)
		if err != nil || sec == nil {
			continue // expired or revoked meanwhile
		}
		path, _ := sec.Data["path"].(string)
		meta, _ := sec.Data["meta"].(map[string]any)
		if path == "auth/"+mount+"/login" && meta["role"] == role {
			tokens++
		}
	}
	ll, err := c.Logical().ListWithContext(ctx, "sys/leases/lookup/"+prefix)
	if err != nil {
		return 0, 0, fmt.Errorf("list leases under %s: %w", prefix, err)
	}
	if ll != nil {
		lk, _ := ll.Data["keys"].([]any)
		leases = len(lk)
	}
	return tokens, leases, nil
}
