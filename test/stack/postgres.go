package stack

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pgUser is the OS user PostgreSQL runs as: "postgres" when we are root
// (the server refuses root), else ourselves.
type pgUser struct {
	cred     *syscall.Credential
	uid, gid int
}

func lookupPGUser() (pgUser, error) {
	if os.Geteuid() != 0 {
		return pgUser{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return pgUser{}, fmt.Errorf("look up the postgres OS user (PostgreSQL refuses to run as root): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return pgUser{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid: uid, gid: gid}, nil
}

func (s *Stack) startPostgres(ctx context.Context) error {
	t0 := time.Now()
	pu, err := lookupPGUser()
	if err != nil {
		return err
	}
	s.pg = pu
	base := filepath.Join(s.dir, "pg")
	data := filepath.Join(base, "data")
	s.pgSockDir = filepath.Join(base, "sock")
	for _, d := range []string{base, s.pgSockDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
		if err := os.Chown(d, pu.uid, pu.gid); err != nil {
			return fmt.Errorf("chown %s: %w", d, err)
		}
	}
	pwfile := filepath.Join(base, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.pgPassword+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", pwfile, err)
	}
	if err := os.Chown(pwfile, pu.uid, pu.gid); err != nil {
		return fmt.Errorf("chown %s: %w", pwfile, err)
	}
	env := []string{"HOME=" + base, "LANG=C", "LC_ALL=C", "PATH=" + s.opts.PGBinDir + ":/usr/bin:/bin"}
	if _, err := run(ctx, pu.cred, env, filepath.Join(s.opts.PGBinDir, "initdb"),
		"-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
		"--pwfile="+pwfile, "--no-sync", "--no-locale", "-E", "UTF8"); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	_ = os.Remove(pwfile)
	s.opts.Logf("stack: initdb done in %s", time.Since(t0).Round(time.Millisecond))
	p, err := Spawn("postgres", base, pu.cred, env, syscall.SIGINT, // SIGINT: fast shutdown
		filepath.Join(s.opts.PGBinDir, "postgres"), "-D", data,
		"-c", "listen_addresses=127.0.0.1", "-p", itoa(s.pgPort), "-k", s.pgSockDir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_connections=200", "-c", "log_min_messages=warning")
	if err != nil {
		return err
	}
	s.add(p)
	err = WaitFor(ctx, p, "postgres", 60*time.Second, func(ctx context.Context) error {
		_, err := run(ctx, nil, nil, filepath.Join(s.opts.PGBinDir, "pg_isready"),
			"-q", "-h", s.pgSockDir, "-p", itoa(s.pgPort), "-U", "postgres")
		return err
	})
	if err != nil {
		return err
	}
	s.opts.Logf("stack: postgres ready in %s", time.Since(t0).Round(time.Millisecond))
	return nil
}

// PGPort is PostgreSQL's TCP port on 127.0.0.1.
func (s *Stack) PGPort() int { return s.pgPort }

// PGConnString is a libpq URL for user on the stack's PostgreSQL.
func (s *Stack) PGConnString(user, password string) string {
	return fmt.Sprintf("postgresql://%s:%s@127.0.0.1:%d/postgres?sslmode=disable", user, password, s.pgPort)
}

// PGQuery runs sql as the superuser (over the unix socket) and returns the
// unaligned, tuples-only output, trimmed.
func (s *Stack) PGQuery(ctx context.Context, sql string) (string, error) {
	out, err := run(ctx, nil, []string{"PGCONNECT_TIMEOUT=5"}, filepath.Join(s.opts.PGBinDir, "psql"),
		"-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-h", s.pgSockDir, "-p", itoa(s.pgPort),
		"-U", "postgres", "-d", "postgres", "-c", sql)
	if err != nil {
		return "", fmt.Errorf("psql as postgres: %w", err)
	}
	return strings.TrimSpace(out), nil
}

// PGLogin logs in over TCP as user with password (as an app would) and
// returns current_user. The error never contains the password.
func (s *Stack) PGLogin(ctx context.Context, user, password string) (string, error) {
	out, err := run(ctx, nil, []string{"PGPASSWORD=" + password, "PGCONNECT_TIMEOUT=5"},
		filepath.Join(s.opts.PGBinDir, "psql"),
		"-X", "-q", "-tA", "-h", "127.0.0.1", "-p", itoa(s.pgPort), "-U", user, "-d", "postgres",
		"-c", "select current_user")
	if err != nil {
		return "", fmt.Errorf("psql as %s: %w", user, err)
	}
	return strings.TrimSpace(out), nil
}

// PGRoleExists reports whether a role (user) exists.
func (s *Stack) PGRoleExists(ctx context.Context, role string) (bool, error) {
	out, err := s.PGQuery(ctx, fmt.Sprintf("select count(*) from pg_roles where rolname = '%s'", strings.ReplaceAll(role, "'", "''")))
	if err != nil {
		return false, err
	}
	return out != "0", nil
}
