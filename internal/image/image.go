package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// The image's layout: a non-root user, the binary on PATH, /data for the
// database, artifacts and caches.
const (
	UID        = 65532
	BinaryPath = "/usr/local/bin/cairn"
	DataDir    = "/data"
	certsPath  = "/etc/ssl/certs/ca-certificates.crt"
)

// Options say what goes into the image.
type Options struct {
	Binary  string // a static Linux build of cairn
	CACerts string // a CA bundle (PEM), e.g. /etc/ssl/certs/ca-certificates.crt
	Arch    string // GOARCH of Binary, e.g. amd64
	// Version, Revision and Source label the image (org.opencontainers.image.*).
	Version, Revision, Source string
	// Created is the time of every file and of the image: the source's commit
	// time, so that the same source builds the same bytes.
	Created time.Time
}

// Build returns Cairn's image: an OCI image of two layers (the system
// files: passwd, group, CA certificates, /data and /tmp; then the binary),
// which runs `cairn server` on 0.0.0.0:5000 with /data as its data folder
// as user 65532. The same Options give the same digest.
func Build(o Options) (v1.Image, error) {
	if o.Binary == "" || o.CACerts == "" || o.Arch == "" {
		return nil, errs.Invalidf("image: a binary, a CA bundle and an architecture are needed")
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: binary: %w", err)
	}
	if len(bin) < 4 || string(bin[:4]) != "\x7fELF" {
		return nil, errs.Invalidf("image: %s is not a Linux (ELF) binary", o.Binary)
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("image: CA certificates: %w", err)
	}
	mtime := o.Created.UTC().Truncate(time.Second)
	uid := strconv.Itoa(UID)
	system, err := layer(mtime, []entry{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\ncairn:x:" + uid + ":\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\ncairn:x:" + uid + ":" + uid + ":cairn:" + DataDir + ":/sbin/nologin\n")},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: certsPath[1:], mode: 0o644, data: certs},
		{name: DataDir[1:] + "/", mode: 0o700, owner: UID},
		{name: "tmp/", mode: 0o1777},
	})
	if err != nil {
		return nil, err
	}
	binary, err := layer(mtime, []entry{
		{name: "usr/", mode: 0o755}, {name: "usr/local/", mode: 0o755}, {name: "usr/local/bin/", mode: 0o755},
		{name: BinaryPath[1:], mode: 0o755, data: bin},
	})
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: mtime}
	labels := map[string]string{"org.opencontainers.image.title": "cairn", "org.opencontainers.image.created": mtime.Format(time.RFC3339)}
	for k, v := range map[string]string{"version": o.Version, "revision": o.Revision, "source": o.Source} {
		if v != "" {
			labels["org.opencontainers.image."+k] = v
		}
	}
	return assemble(o.Arch, mtime, v1.Config{
		User:         uid + ":" + uid,
		Entrypoint:   []string{BinaryPath},
		Cmd:          []string{"server", "--addr", "0.0.0.0:5000", "--data", DataDir},
		Env:          []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=" + certsPath, "HOME=" + DataDir},
		WorkingDir:   DataDir,
		ExposedPorts: map[string]struct{}{"5000/tcp": {}},
		Volumes:      map[string]struct{}{DataDir: {}},
		Labels:       labels,
	}, mutate.Addendum{Layer: system, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "cairn image: system files"}},
		mutate.Addendum{Layer: binary, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "cairn image: " + BinaryPath}})
}

// assemble makes a linux/arch OCI image of the layers with config, its
// times mtime.
func assemble(arch string, mtime time.Time, config v1.Config, layers ...mutate.Addendum) (v1.Image, error) {
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS, cfg.Created, cfg.Config = arch, "linux", v1.Time{Time: mtime}, config
	return mutate.ConfigFile(img, cfg)
}

// Program returns an image of one static Linux program at path, its
// entrypoint, with /tmp and nothing else: a sandbox's pause process or a
// test workload. The same inputs give the same digest.
func Program(binary, path, arch string, created time.Time) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("image: program: %w", err)
	}
	mtime := created.UTC().Truncate(time.Second)
	l, err := layer(mtime, []entry{{name: "tmp/", mode: 0o1777}, {name: strings.TrimPrefix(path, "/"), mode: 0o755, data: bin}})
	if err != nil {
		return nil, err
	}
	return assemble(arch, mtime, v1.Config{Entrypoint: []string{path}}, mutate.Addendum{Layer: l, MediaType: types.OCILayer})
}

// entry is one file or folder (name ends in /) of a layer.
type entry struct {
	name  string
	mode  int64
	owner int
	data  []byte
}

// layer makes a gzip layer of entries with fixed times and owners, in
// name order: the same entries give the same digest.
func layer(mtime time.Time, entries []entry) (v1.Layer, error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.owner, Gid: e.owner, ModTime: mtime, Format: tar.FormatPAX}
		if e.name[len(e.name)-1] == '/' {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// WriteArchive writes img as one tar file that is both an OCI image layout
// (oci-layout, index.json, blobs/sha256/...: for `ctr images import`,
// `podman load`, skopeo) and a `docker save` archive (manifest.json naming
// the same blobs: for `docker load` and `kind load image-archive`), tagged
// ref (e.g. cairn:0.4.0). Entries are in a fixed order with fixed times,
// so the same image gives the same bytes.
func WriteArchive(w io.Writer, img v1.Image, ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return errs.Invalidf("image: tag %q: %v", ref, err)
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{
		MediaType: types.OCIManifestSchema1, Size: int64(len(manifest)), Digest: digest,
		Annotations: map[string]string{"io.containerd.image.name": containerdName(tag), "org.opencontainers.image.ref.name": tag.TagStr()},
	}}}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}
	blob := func(h v1.Hash) string { return path.Join("blobs", h.Algorithm, h.Hex) }
	docker := []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{{Config: blob(cfgName), RepoTags: []string{dockerTag(tag)}}}
	tw := tar.NewWriter(w)
	put := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, ModTime: time.Unix(0, 0), Typeflag: tar.TypeDir, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	if err := put(blob(cfgName), int64(len(config)), bytes.NewReader(config)); err != nil {
		return err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = put(blob(d), size, rc)
		rc.Close()
		if err != nil {
			return err
		}
		docker[0].Layers = append(docker[0].Layers, blob(d))
	}
	if err := put(blob(digest), int64(len(manifest)), bytes.NewReader(manifest)); err != nil {
		return err
	}
	dockerJSON, err := json.Marshal(docker)
	if err != nil {
		return err
	}
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	for _, f := range []struct {
		name string
		b    []byte
	}{{"index.json", indexJSON}, {"manifest.json", dockerJSON}, {"oci-layout", layout}} {
		if err := put(f.name, int64(len(f.b)), bytes.NewReader(f.b)); err != nil {
			return err
		}
	}
	return tw.Close()
}

// dockerTag is the tag as docker names it: without docker.io/library/.
func dockerTag(t name.Tag) string {
	repo := t.RepositoryStr()
	if t.RegistryStr() != name.DefaultRegistry {
		repo = t.RegistryStr() + "/" + repo
	} else if r, ok := strings.CutPrefix(repo, "library/"); ok {
		repo = r
	}
	return repo + ":" + t.TagStr()
}

// containerdName is the tag's full name as containerd and docker spell it:
// docker.io/library/cairn:0.4.0 (go-containerregistry says index.docker.io).
func containerdName(t name.Tag) string {
	reg := t.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + t.RepositoryStr() + ":" + t.TagStr()
}

// Push uploads img to ref (registry/repository:tag) with the credentials
// of the docker config (~/.docker/config.json) or none; a registry on
// localhost or 127.0.0.1 is spoken to over plain HTTP.
func Push(ctx context.Context, img v1.Image, ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", errs.Invalidf("image: push reference %q: %v", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("image: push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return r.Context().Digest(d.String()).String(), nil
}
