package imapmsg_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mailfront/mailfront/imap4/internal/imapmsg"
)

// seedMessages adds the testdata messages and a few small hostile shapes
// to a fuzz corpus.
func seedMessages(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")))
		f.Add(b) // bare LF
	}
	for _, s := range []string{
		"",
		"\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n--a\r\n\r\n--a--",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n--a--\r\n",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/digest; boundary=x\r\n\r\n--x\r\n\r\n--x--",
		"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n",
		"Content-Type: multipart/mixed; boundary*0=a; boundary*1=b\r\n\r\n--ab\r\n\r\nx\r\n--ab--\r\n",
		"From: a\r\n\tb\r\n :c\r\nTo: (x\r\n\r\n",
		"Content-Type: text/plain; name*0*=utf-8''%41; name*2=x; name*1*=%42\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse parses arbitrary bytes and checks that nothing panics, that
// every offset lies within the message and every line count is right,
// that every section reads exactly its announced size, and that the
// cache encoding round-trips.
func FuzzParse(f *testing.F) {
	seedMessages(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		r := bytes.NewReader(msg)
		s, err := imapmsg.Parse(r, int64(len(msg)))
		if err != nil {
			t.Fatal(err)
		}
		if err := imapmsg.CheckInvariants(s, msg); err != nil {
			t.Fatal(err)
		}
		small, err := imapmsg.ParseSmallWindow(r, int64(len(msg)))
		if err != nil {
			t.Fatal(err)
		}
		o := imapmsg.RenderOptions{}
		bs := s.AppendBodyStructure(nil, true, o)
		env := s.AppendEnvelope(nil, o)
		if got := small.AppendBodyStructure(nil, true, o); !bytes.Equal(got, bs) {
			t.Fatalf("small window: %s\nlarge window: %s", got, bs)
		}
		s.AppendBodyStructure(nil, false, imapmsg.RenderOptions{UTF8: true})
		s.AppendEnvelope(nil, imapmsg.RenderOptions{UTF8: true})

		sections := []imapmsg.Section{{}, {Specifier: "HEADER"}, {Specifier: "TEXT"},
			{Specifier: "HEADER.FIELDS", Fields: []string{"From", "Subject"}},
			{Specifier: "HEADER.FIELDS.NOT", Fields: []string{"From"}}}
		for _, p := range append([][]int{nil}, imapmsg.PartPaths(s)...) {
			if p != nil {
				for _, spec := range []string{"", "MIME", "HEADER", "TEXT", "HEADER.FIELDS"} {
					sections = append(sections, imapmsg.Section{Part: p, Specifier: spec, Fields: []string{"To"}})
				}
			}
			rd, n, err := s.BinaryReader(r, p)
			if err == nil {
				c, err := io.ReadAll(rd)
				if err != nil || int64(len(c)) != n {
					t.Fatalf("BINARY[%v]: %d octets of %d, %v", p, len(c), n, err)
				}
				if size, err := s.BinarySize(r, p); err != nil || size != n {
					t.Fatalf("BINARY.SIZE[%v] = %d, %v; BINARY has %d", p, size, err, n)
				}
			}
		}
		for _, sec := range sections {
			rd, n, err := s.SectionReader(r, sec)
			if err != nil {
				t.Fatal(err)
			}
			c, err := io.ReadAll(rd)
			if err != nil || int64(len(c)) != n {
				t.Fatalf("section %+v: %d octets of %d, %v", sec, len(c), n, err)
			}
		}
		if _, err := s.MatchBody(r, "é x"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MatchHeader(r, "", "a"); err != nil {
			t.Fatal(err)
		}
		s.Date()

		data, _ := s.MarshalBinary()
		u, err := imapmsg.Unmarshal(data)
		if err != nil {
			t.Fatalf("Unmarshal of MarshalBinary: %v", err)
		}
		if got := u.AppendBodyStructure(nil, true, o); !bytes.Equal(got, bs) {
			t.Fatalf("after round trip: %s\nbefore: %s", got, bs)
		}
		if got := u.AppendEnvelope(nil, o); !bytes.Equal(got, env) {
			t.Fatalf("after round trip: %s\nbefore: %s", got, env)
		}
	})
}

// FuzzUnmarshal decodes arbitrary bytes: no panic, and whatever decodes
// renders, and its sections stay within the size it claims.
func FuzzUnmarshal(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, name := range files {
		b, _ := os.ReadFile(name)
		s, err := imapmsg.Parse(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			f.Fatal(err)
		}
		data, _ := s.MarshalBinary()
		f.Add(data)
	}
	f.Add([]byte("IMS\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := imapmsg.Unmarshal(data)
		if err != nil {
			return
		}
		s.AppendBodyStructure(nil, true, imapmsg.RenderOptions{})
		s.AppendEnvelope(nil, imapmsg.RenderOptions{})
		if s.Size() > 1<<20 {
			return
		}
		msg := make([]byte, s.Size())
		r := bytes.NewReader(msg)
		for _, p := range append(imapmsg.PartPaths(s), nil) {
			for _, spec := range []string{"", "MIME", "HEADER", "TEXT", "HEADER.FIELDS"} {
				rd, n, err := s.SectionReader(r, imapmsg.Section{Part: p, Specifier: spec})
				if err != nil {
					t.Fatal(err)
				}
				c, err := io.ReadAll(rd)
				if err != nil || int64(len(c)) != n {
					t.Fatalf("section %v %s: %d octets of %d, %v", p, spec, len(c), n, err)
				}
			}
			s.BinarySize(r, p)
		}
		s.MatchBody(r, "x")
		s.MatchHeader(r, "", "x")
		again, _ := s.MarshalBinary()
		if _, err := imapmsg.Unmarshal(again); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
	})
}
