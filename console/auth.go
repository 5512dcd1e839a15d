package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// BasicAuth returns an Authorizer that lets in requests carrying the
// given user and password (HTTP Basic authentication, compared in
// constant time) as p, and refuses the others with ErrUnauthenticated. Use
// it with Config.Challenge set to `Basic realm="..."` so that browsers
// ask for the credentials, and only over HTTPS or loopback.
func BasicAuth(user, password string, p Principal) Authorizer {
	wantUser, wantPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	return func(r *http.Request) (Principal, error) {
		u, pw, ok := r.BasicAuth()
		gotUser, gotPass := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(pw))
		// Both compared whatever the first gives, so that timing says
		// nothing about which was wrong.
		userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:])
		passOK := subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
		if !ok || userOK&passOK != 1 || password == "" {
			return Principal{}, ErrUnauthenticated
		}
		return p, nil
	}
}
