package storage

import "testing"

func TestWithConnectTimeout(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p%40ss@127.0.0.1:5432/db?sslmode=disable": "postgres://u:p%40ss@127.0.0.1:5432/db?connect_timeout=5&sslmode=disable",
		"postgres://127.0.0.1/db?connect_timeout=30":            "postgres://127.0.0.1/db?connect_timeout=30",
		"host=127.0.0.1 dbname=db":                              "host=127.0.0.1 dbname=db",
		"postgresql://127.0.0.1/db":                             "postgresql://127.0.0.1/db?connect_timeout=5",
	} {
		if got := withConnectTimeout(in); got != want {
			t.Errorf("withConnectTimeout(%q) = %q, want %q", in, got, want)
		}
	}
}
