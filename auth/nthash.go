package auth

import (
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

// NTHashOf returns the NT hash of password: MD4 of its UTF-16LE encoding
// (MS-NLMP §3.3.1, NTOWFv1). Stores that enable NTLM keep this value instead
// of the password; it is as sensitive as the password itself.
func NTHashOf(password string) [16]byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i] = byte(c)
		b[2*i+1] = byte(c >> 8)
	}
	h := md4.New()
	h.Write(b)
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}
