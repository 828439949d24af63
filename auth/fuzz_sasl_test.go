package auth_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/mailfront/mailfront/auth"
)

// FuzzSASLPlain checks that PLAIN never panics and authenticates exactly
// the messages that carry a user's right password.
func FuzzSASLPlain(f *testing.F) {
	for _, s := range []string{
		"\x00tim\x00tanstaaftanstaaf",
		"Ursel\x00Kurt\x00xipj3plmq",
		"tim\x00tim\x00tanstaaftanstaaf",
		"\x00tim\x00wrong",
		"\x00\x00",
		"tim\x00tanstaaftanstaaf",
		"\x00t\xffim\x00x",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	dir := newSASLDirectory()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, msg []byte, emptyFirst bool) {
		s, err := auth.NewServerSession(auth.Plain, dir, auth.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if emptyFirst {
			if _, _, err := s.Next(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		_, done, err := s.Next(ctx, msg)
		if !done {
			if err == nil && msg == nil && !emptyFirst {
				return // no initial response: the empty challenge
			}
			if err == nil {
				t.Fatal("neither done nor failed after the only message")
			}
			if s.Identity().Username != "" {
				t.Fatalf("identity %v after failure", s.Identity())
			}
			return
		}
		parts := bytes.Split(msg, []byte{0})
		if len(parts) != 3 {
			t.Fatalf("authenticated %q", msg)
		}
		authzid, authcid, passwd := string(parts[0]), string(parts[1]), string(parts[2])
		if p, ok := dir.passwords[authcid]; !ok || p != passwd {
			t.Fatalf("authenticated %q with a wrong password", msg)
		}
		want := authcid
		if authzid != "" && authzid != authcid {
			want = authzid
			if dir.proxies[authcid] != authzid {
				t.Fatalf("%q acted as %q", authcid, authzid)
			}
		}
		if s.Identity().Username != want {
			t.Fatalf("identity %q, want %q", s.Identity().Username, want)
		}
	})
}

// FuzzSCRAM feeds SCRAM-SHA-256 a client-first and a client-final message
// with the server nonce fixed to that of RFC 7677. It checks that nothing
// panics and that an exchange succeeds only with a proof an independent
// client computes from the password.
func FuzzSCRAM(f *testing.F) {
	const snonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	seeds := [][2]string{
		{"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="},
		{"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		{"y,a=Ursel,n=Kurt,r=abc,x=ext", "c=eSxhPVVyc2VsLA==,r=abc,x=1,p=AAAA"},
		{"p=tls-exporter,,n=user,r=abc", "c=biws,r=abc,p=AAAA"},
		{"n,,m=x,n=user,r=abc", ""},
		{"n,,n=us=2Cer,r=abc", "r=abc,c=biws,p=AAAA"},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	dir := newSASLDirectory()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, first, final []byte) {
		s, err := auth.NewServerSessionWithHooks(auth.SCRAMSHA256Name, dir, auth.SessionOptions{},
			auth.SessionHooks{SCRAMNonce: snonce})
		if err != nil {
			t.Fatal(err)
		}
		serverFirst, done, err := s.Next(ctx, first)
		if err != nil || done {
			if done {
				t.Fatal("done after client-first")
			}
			return
		}
		v, done, err := s.Next(ctx, final)
		if err != nil || done {
			if done {
				t.Fatal("done without a server signature")
			}
			return
		}
		// The server accepted the proof: check it independently.
		_, bare, _ := strings.Cut(string(first), ",")
		_, bare, _ = strings.Cut(bare, ",")
		withoutProof := string(final[:bytes.LastIndex(final, []byte(",p="))])
		user := s.Username()
		password, ok := dir.passwords[user]
		if !ok {
			t.Fatalf("unknown user %q passed the proof", user)
		}
		fields := strings.Split(string(serverFirst), ",")
		salt, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(fields[1], "s="))
		iter, _ := strconv.Atoi(strings.TrimPrefix(fields[2], "i="))
		salted, _ := pbkdf2.Key(sha256.New, password, salt, iter, 32)
		mac := func(key []byte, msg string) []byte {
			m := hmac.New(sha256.New, key)
			m.Write([]byte(msg))
			return m.Sum(nil)
		}
		clientKey := mac(salted, "Client Key")
		stored := sha256.Sum256(clientKey)
		authMessage := bare + "," + string(serverFirst) + "," + withoutProof
		sig := mac(stored[:], authMessage)
		proof := make([]byte, len(sig))
		for i := range proof {
			proof[i] = clientKey[i] ^ sig[i]
		}
		if want := withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof); want != string(final) {
			t.Fatalf("accepted client-final %q, want %q", final, want)
		}
		if want := "v=" + base64.StdEncoding.EncodeToString(mac(mac(salted, "Server Key"), authMessage)); string(v) != want {
			t.Fatalf("server signature %q, want %q", v, want)
		}
	})
}

// FuzzNTLM feeds NTLM a NEGOTIATE and an AUTHENTICATE message. The server
// challenge is random, so nothing may authenticate, and nothing may panic.
func FuzzNTLM(f *testing.F) {
	neg := ntlmNegotiateMsg(tDefaults)
	blob := ntlmBlob(make([]byte, 8), []byte("clientch"), []byte{2, 0, 2, 0, 'D', 0, 0, 0, 0, 0})
	nt := ntlmv2Response("tanstaaftanstaaf", "tim", "", []byte("01234567"), blob)
	f.Add(neg, ntlmAuthenticateMsg(tDefaults, make([]byte, 24), nt, "DOMAIN", "tim", "WS"))
	f.Add(neg[:16], ntlmAuthenticateMsg(tOEM, nil, nt, "", "tim", ""))
	f.Add(neg, ntlmAuthenticateMsg(tDefaults, make([]byte, 24), make([]byte, 24), "", "tim", ""))
	f.Add(neg, ntlmAuthenticateMsg(tDefaults|tAnon, nil, nil, "", "", ""))
	f.Add([]byte("NTLMSSP\x00\x03\x00\x00\x00"), []byte{})
	dir := newSASLDirectory()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, negotiate, authenticate []byte) {
		s, err := auth.NewServerSession(auth.NTLM, dir, auth.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := s.Next(ctx, negotiate)
		if done {
			t.Fatal("done after NEGOTIATE")
		}
		if err != nil {
			return
		}
		_, done, err = s.Next(ctx, authenticate)
		if done || err == nil {
			t.Fatalf("AUTHENTICATE accepted against a random challenge: done=%v err=%v", done, err)
		}
		if s.Identity().Username != "" {
			t.Fatal("identity after failure")
		}
	})
}

// FuzzOAuth feeds OAUTHBEARER and XOAUTH2 client messages. It checks that
// nothing panics, that only a message carrying the one valid token
// authenticates, and that a rejected token ends in failure.
func FuzzOAuth(f *testing.F) {
	for _, m := range [][]byte{
		oauthBearerMsg("", rfc7628Token),
		oauthBearerMsg("alice@example.org", rfc7628Token),
		oauthBearerMsg("", "bad"),
		[]byte("n,,\x01auth=bearer   " + rfc7628Token + "\x01\x01"),
		[]byte("\x01"),
	} {
		f.Add(false, m)
	}
	for _, m := range [][]byte{
		xoauth2Msg("alice@example.org", rfc7628Token),
		xoauth2Msg("bob@example.org", rfc7628Token),
		[]byte("user=a\x01auth=Bearer x\x01"),
	} {
		f.Add(true, m)
	}
	dir := newSASLDirectory()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, xoauth2 bool, msg []byte) {
		mech := auth.OAuthBearer
		if xoauth2 {
			mech = auth.XOAuth2
		}
		s, err := auth.NewServerSession(mech, dir, auth.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := s.Next(ctx, msg)
		if err != nil {
			return
		}
		if done {
			if !bytes.Contains(msg, []byte(rfc7628Token)) || s.Identity().Username != "alice@example.org" {
				t.Fatalf("authenticated %q as %q", msg, s.Identity().Username)
			}
			return
		}
		// An error challenge: the exchange must fail whatever follows.
		_, done, err = s.Next(ctx, msg)
		if done || err == nil {
			t.Fatalf("rejected token then done=%v err=%v", done, err)
		}
	})
}
