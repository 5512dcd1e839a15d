// Package uuid5 writes name-based UUIDs (version 5, SHA-1, RFC 9562)
// straight into their canonical string form. The library derives ids on
// every hot path; building a uuid.UUID and formatting it costs
// allocations this avoids.
package uuid5

import "crypto/sha1"

// FromData returns the version-5 UUID of data, which is a namespace's 16
// bytes followed by the name, in the 8-4-4-4-12 hex form.
func FromData(data []byte) string {
	sum := sha1.Sum(data)
	sum[6] = (sum[6] & 0x0f) | 0x50 // version 5
	sum[8] = (sum[8] & 0x3f) | 0x80 // RFC 4122 variant
	return format(sum[:16])
}

// Joined returns the version-5 UUID, in namespace ns, of parts joined by
// NUL bytes. It allocates only the string when the name is short.
func Joined(ns [16]byte, parts ...string) string {
	var buf [320]byte
	b := append(buf[:0], ns[:]...)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return FromData(b)
}

// format writes 16 bytes in the canonical 8-4-4-4-12 hex form.
func format(u []byte) string {
	const hexDigits = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[c>>4], hexDigits[c&0x0f]
		j += 2
	}
	return string(out[:])
}
