// Package storagetest gives tests a fresh, migrated PostgreSQL database.
//
// The server comes from HOTLINEBOT_TEST_DATABASE_URL (.ci/run and `make test`
// on a machine with .ci/pg.sh set it). Without it a test skips, unless CI is
// set: then it fails, so a database test never silently stops running.
package storagetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/lib/pq" // the PostgreSQL driver
)

// EnvURL names the environment variable with the test server's URL.
const EnvURL = "HOTLINEBOT_TEST_DATABASE_URL"

// NewDatabase creates an empty database for this test and returns its URL; it
// is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the database tests (.ci/run starts PostgreSQL)", EnvURL)
		}
		t.Skipf("%s not set: skipping a test that needs PostgreSQL", EnvURL)
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	if err := admin.Ping(); err != nil {
		admin.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("storagetest: PostgreSQL at %s does not answer: %v", EnvURL, err)
		}
		t.Skipf("storagetest: PostgreSQL does not answer: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "hbtest_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		admin.Close()
		t.Fatalf("storagetest: create database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storagetest: %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}
