package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// testOptions are the options of an image around a small stand-in binary
// (an ELF header and bytes) and a stand-in CA bundle.
func testOptions(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	bin, certs := filepath.Join(dir, "cairn"), filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(bin, append([]byte("\x7fELF"), bytes.Repeat([]byte("cairn"), 1000)...), 0o755))
	require.NoError(t, os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644))
	return Options{Binary: bin, CACerts: certs, Arch: "amd64", Version: "0.4.0", Revision: "0123abc", Source: "https://example.com/cairn",
		Created: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
}

func archive(t *testing.T, img v1.Image, ref string) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, WriteArchive(&b, img, ref))
	return b.Bytes()
}

func TestBuildIsReproducible(t *testing.T) {
	o := testOptions(t)
	a, err := Build(o)
	require.NoError(t, err)
	b, err := Build(o)
	require.NoError(t, err)
	da, err := a.Digest()
	require.NoError(t, err)
	db, err := b.Digest()
	require.NoError(t, err)
	require.Equal(t, da, db, "the same inputs give the same image")
	require.Equal(t, sha256.Sum256(archive(t, a, "cairn:0.4.0")), sha256.Sum256(archive(t, b, "cairn:0.4.0")), "and the same archive bytes")

	o.Revision = "4567def"
	c, err := Build(o)
	require.NoError(t, err)
	dc, err := c.Digest()
	require.NoError(t, err)
	require.NotEqual(t, da, dc, "another revision is another image")
}

// files reads every entry of the image's flattened file system.
func files(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out, contents := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[strings.TrimSuffix(h.Name, "/")], contents[h.Name] = h, b
		h.PAXRecords = map[string]string{"content": string(b)}
	}
	return out
}

func TestBuildContents(t *testing.T) {
	o := testOptions(t)
	img, err := Build(o)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "linux", cfg.OS)
	require.Equal(t, "amd64", cfg.Architecture)
	require.Equal(t, o.Created, cfg.Created.Time.UTC())
	require.Equal(t, "65532:65532", cfg.Config.User, "not root")
	require.Equal(t, []string{BinaryPath}, cfg.Config.Entrypoint)
	require.Equal(t, []string{"server", "--addr", "0.0.0.0:5000", "--data", "/data"}, cfg.Config.Cmd)
	require.Contains(t, cfg.Config.Volumes, "/data")
	require.Equal(t, "0.4.0", cfg.Config.Labels["org.opencontainers.image.version"])
	require.Equal(t, "0123abc", cfg.Config.Labels["org.opencontainers.image.revision"])
	require.Equal(t, "https://example.com/cairn", cfg.Config.Labels["org.opencontainers.image.source"])
	mt, err := img.MediaType()
	require.NoError(t, err)
	require.Equal(t, "application/vnd.oci.image.manifest.v1+json", string(mt))

	fs := files(t, img)
	bin, _ := os.ReadFile(o.Binary)
	require.Equal(t, string(bin), fs["usr/local/bin/cairn"].PAXRecords["content"])
	require.EqualValues(t, 0o755, fs["usr/local/bin/cairn"].Mode)
	require.Contains(t, fs["etc/passwd"].PAXRecords["content"], "cairn:x:65532:65532:")
	require.Contains(t, fs["etc/ssl/certs/ca-certificates.crt"].PAXRecords["content"], "BEGIN CERTIFICATE")
	require.Equal(t, byte(tar.TypeDir), fs["data"].Typeflag)
	require.Equal(t, 65532, fs["data"].Uid, "the data folder belongs to the user")
	require.EqualValues(t, 0o700, fs["data"].Mode)
	require.EqualValues(t, 0o1777, fs["tmp"].Mode)
	for n, h := range fs {
		require.True(t, h.ModTime.Equal(o.Created), "%s: %v", n, h.ModTime)
	}
}

// TestArchiveIsOCILayoutAndDockerArchive reads the archive back both ways:
// as an OCI image layout and as a docker save archive.
func TestArchiveIsOCILayoutAndDockerArchive(t *testing.T) {
	img, err := Build(testOptions(t))
	require.NoError(t, err)
	want, err := img.Digest()
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "cairn-image.tar")
	require.NoError(t, os.WriteFile(file, archive(t, img, "cairn:0.4.0"), 0o644))

	dir := t.TempDir()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	idx, err := layout.ImageIndexFromPath(dir)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1)
	require.Equal(t, want, im.Manifests[0].Digest)
	require.Equal(t, "docker.io/library/cairn:0.4.0", im.Manifests[0].Annotations["io.containerd.image.name"])
	require.Equal(t, "0.4.0", im.Manifests[0].Annotations["org.opencontainers.image.ref.name"])
	fromLayout, err := idx.Image(want)
	require.NoError(t, err)
	require.NoError(t, validateSame(img, fromLayout))

	tag, err := name.NewTag("cairn:0.4.0")
	require.NoError(t, err)
	fromDocker, err := tarball.ImageFromPath(file, &tag)
	require.NoError(t, err)
	require.NoError(t, validateSame(img, fromDocker))
}

// validateSame checks that b has a's configuration and layers.
func validateSame(a, b v1.Image) error {
	ca, err := a.ConfigName()
	if err != nil {
		return err
	}
	cb, err := b.ConfigName()
	if err != nil {
		return err
	}
	if ca != cb {
		return errs.Invalidf("config %s != %s", ca, cb)
	}
	la, _ := a.Layers()
	lb, err := b.Layers()
	if err != nil {
		return err
	}
	if len(la) != len(lb) {
		return errs.Invalidf("%d layers != %d", len(la), len(lb))
	}
	for i := range la {
		da, _ := la[i].DiffID()
		db, err := lb[i].DiffID()
		if err != nil {
			return err
		}
		if da != db {
			return errs.Invalidf("layer %d: %s != %s", i, da, db)
		}
	}
	return nil
}

func TestPushToARegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	img, err := Build(testOptions(t))
	require.NoError(t, err)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/team/cairn:0.4.0"
	pushed, err := Push(t.Context(), img, ref)
	require.NoError(t, err)
	d, _ := img.Digest()
	require.Equal(t, host+"/team/cairn@"+d.String(), pushed)

	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	got, err := remote.Image(r)
	require.NoError(t, err)
	gd, err := got.Digest()
	require.NoError(t, err)
	require.Equal(t, d, gd, "the registry holds the same image")
}

func TestBuildRefusesBadInput(t *testing.T) {
	o := testOptions(t)
	for name, edit := range map[string]func(*Options){
		"no binary":      func(o *Options) { o.Binary = "" },
		"no arch":        func(o *Options) { o.Arch = "" },
		"missing binary": func(o *Options) { o.Binary = filepath.Join(t.TempDir(), "none") },
		"not ELF":        func(o *Options) { o.Binary = o.CACerts },
		"missing certs":  func(o *Options) { o.CACerts = filepath.Join(t.TempDir(), "none") },
	} {
		bad := o
		edit(&bad)
		_, err := Build(bad)
		require.Error(t, err, name)
	}
	img, err := Build(o)
	require.NoError(t, err)
	err = WriteArchive(io.Discard, img, "Not A Tag!")
	require.Equal(t, errs.Invalid, errs.KindOf(err), "%v", err)
	_, err = Push(t.Context(), img, "bad ref::")
	require.Equal(t, errs.Invalid, errs.KindOf(err), "%v", err)
}
