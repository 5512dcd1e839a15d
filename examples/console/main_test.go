package main

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shipevents/shipevents/console"
)

func TestCredentialsOffLoopback(t *testing.T) {
	for addr, loop := range map[string]bool{"127.0.0.1:8080": true, "localhost:80": true, "[::1]:8080": true,
		":8080": false, "0.0.0.0:8080": false, "192.0.2.1:8080": false, "nonsense": false} {
		if got := isLoopback(addr); got != loop {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, loop)
		}
	}
	var out strings.Builder
	auth, err := authorizer("127.0.0.1:8080", &out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth(httptest.NewRequest("GET", "/", nil)); err != nil || !strings.Contains(out.String(), "without credentials") {
		t.Errorf("on loopback: %v, said %q; want requests let in, and said so", err, out.String())
	}
	t.Setenv("SHIPEVENTS_CONSOLE_PASSWORD", "correct horse")
	auth, err = authorizer(":8080", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, console.ErrUnauthenticated) {
		t.Errorf("off loopback without credentials: %v, want ErrUnauthenticated", err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("admin", "correct horse")
	if _, err := auth(r); err != nil {
		t.Errorf("off loopback with the password: %v", err)
	}
}
