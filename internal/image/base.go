package image

import (
	"bytes"
	"encoding/pem"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The user the Dockerfile's base (distroless static, nonroot) runs as, and
// the files of that base the image needs.
const (
	NonrootUID = 65532
	CABundle   = "/etc/ssl/certs/ca-certificates.crt"
	homeDir    = "/home/nonroot"
)

// baseEnv is the environment of the distroless static base.
var baseEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"SSL_CERT_FILE=" + CABundle,
}

// baseFiles are what the image takes from its distroless static base: the
// users root, nobody and nonroot (65532), a sticky /tmp, nonroot's home,
// and the CA bundle (the Mozilla NSS roots of Go's x509roots/fallback
// module, at the version go.mod pins; a root with a distrust date is left
// out, since a PEM bundle cannot carry that constraint). Nothing else of the
// base (no shell, no package database) is in distroless static either.
func baseFiles() []File {
	return []File{
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")},
		{Path: CABundle, Mode: 0o644, Data: caBundle()},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: "/root", Dir: true, Mode: 0o700},
		{Path: homeDir, Dir: true, Mode: 0o700, UID: NonrootUID, GID: NonrootUID},
	}
}

func caBundle() []byte {
	var b bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}) // a bytes.Buffer does not fail
	}
	return b.Bytes()
}
