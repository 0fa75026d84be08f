package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"wisp.dev/wisp/fetch/envshim"
	"wisp.dev/wisp/plan"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "pause" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		<-ctx.Done()
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("testapp", flag.ContinueOnError)
	dir := fs.String("dir", "/vault/secrets", "folder of the secret files")
	files := fs.String("files", "", "comma list of files that must be readable (names under -dir)")
	dbFile := fs.String("db", "", "file (under -dir) with USERNAME= and PASSWORD= lines (format env); empty: read PGUSER/PGPASSWORD from the environment")
	pgAddr := fs.String("pg", "127.0.0.1:5432", "PostgreSQL host:port")
	every := fs.Duration("every", 0, "log in again at this interval until stopped (0: once)")
	hold := fs.Bool("hold", false, "after the last login, wait for SIGTERM instead of exiting")
	roDir := fs.String("ro", "", "print whether this folder is read-only (a file cannot be created in it)")
	showEnv := fs.String("show-env", "", "comma list of non-secret environment variables to print")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Printf("uid=%d gids=%v\n", os.Getuid(), groups())
	for _, f := range splitList(*files) {
		n, err := countLines(filepath.Join(*dir, f))
		if err != nil {
			return fmt.Errorf("read %s: %w", f, err)
		}
		fmt.Printf("file %s: %d lines\n", f, n)
	}
	for _, name := range splitList(*showEnv) {
		fmt.Printf("%s=%s\n", name, os.Getenv(name))
	}
	if *roDir != "" {
		fmt.Printf("read-only %s: %s\n", *roDir, readOnly(*roDir))
	}
	login := func() error {
		user, pass, err := credential(*dir, *dbFile)
		if err != nil {
			return err
		}
		name, err := currentUser(ctx, *pgAddr, user, pass)
		if err != nil {
			return err
		}
		fmt.Printf("current_user=%s\n", name)
		return nil
	}
	if *dbFile != "" || os.Getenv("PGPASSWORD") != "" {
		if err := login(); err != nil {
			return err
		}
		for *every > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(*every):
			}
			if err := login(); err != nil {
				return err
			}
		}
	}
	if *hold {
		<-ctx.Done()
	}
	return nil
}

func groups() []int {
	gs, _ := os.Getgroups()
	return gs
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func countLines(p string) (int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strings.Count(string(b), "\n"), nil
}

// credential reads the username and password keys of an env-format
// secret file (with the exec shim's reader), or PGUSER and PGPASSWORD from
// the environment.
func credential(dir, file string) (user, pass string, err error) {
	if file == "" {
		return os.Getenv("PGUSER"), os.Getenv("PGPASSWORD"), nil
	}
	vals, err := envshim.Values(plan.EnvSpec{Dir: dir, Vars: []plan.EnvVar{
		{Name: "USER", Secret: file, Key: "username", Format: plan.FormatEnv},
		{Name: "PASSWORD", Secret: file, Key: "password", Format: plan.FormatEnv},
	}})
	if err != nil {
		return "", "", err
	}
	return vals["USER"], vals["PASSWORD"], nil
}

func currentUser(ctx context.Context, addr, user, pass string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-pg %q: %w", addr, err)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("-pg %q: bad port", addr)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, pass), Host: net.JoinHostPort(host, port), Path: "/postgres", RawQuery: "sslmode=disable&connect_timeout=5"}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, u.String())
	if err != nil {
		// pgx errors may quote the connection string: say only who failed.
		return "", fmt.Errorf("log in to PostgreSQL at %s as %s: failed", addr, user)
	}
	defer conn.Close(ctx)
	var name string
	if err := conn.QueryRow(cctx, "select current_user").Scan(&name); err != nil {
		return "", fmt.Errorf("select current_user: %w", err)
	}
	return name, nil
}

// readOnly tries to create a file in dir: "yes" when the file system says
// it is read-only.
func readOnly(dir string) string {
	f, err := os.CreateTemp(dir, ".probe")
	if err == nil {
		f.Close()
		os.Remove(f.Name())
		return "no"
	}
	if errors.Is(err, syscall.EROFS) {
		return "yes"
	}
	return "unknown (" + err.Error() + ")"
}
