package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/serve"
	"github.com/cairn-mlops/cairn/internal/train"
)

// ModelLoader loads model packages for the model server: registered
// versions (models:/name@alias, models:/name/3) fetched once from Models
// into CacheDir, or package folders.
type ModelLoader struct {
	Models   ModelSource // needed for models:/ URIs
	CacheDir string
	Backend  string // "" for the default
}

// Resolve returns the version uri points at now: the registry's version
// number, or for a folder a hash of its package manifest (so a package
// rewritten in place is a new version).
func (l ModelLoader) Resolve(ctx context.Context, uri string) (string, error) {
	if strings.HasPrefix(uri, "models:/") {
		if l.Models == nil {
			return "", errs.Invalidf("resolve %s: a tracking server is needed for models:/ URIs", uri)
		}
		mv, err := l.Models.ResolveModel(ctx, uri)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(mv.Version, 10), nil
	}
	b, err := os.ReadFile(filepath.Join(uri, train.PackageFile))
	if err != nil {
		if os.IsNotExist(err) {
			return "", errs.NotFoundf("%s is not a model package: %s is missing", uri, train.PackageFile)
		}
		return "", fmt.Errorf("resolve %s: %w", uri, err)
	}
	sum := sha256.Sum256(b)
	return "sha256-" + hex.EncodeToString(sum[:6]), nil
}

// Load loads version of uri and runs it once.
func (l ModelLoader) Load(ctx context.Context, uri, version string) (serve.Model, error) {
	if strings.HasPrefix(uri, "models:/") {
		ref, err := registry.ParseModelURI(uri)
		if err != nil {
			return nil, err
		}
		uri = fmt.Sprintf("models:/%s/%s", ref.Name, version)
	}
	p, err := LoadModel(ctx, l.Models, uri, l.CacheDir, l.Backend)
	if err != nil {
		return nil, err
	}
	return NewServedModel(p)
}

// ModelSource is where registered model versions come from: the registry
// and artifact stores of this process (LocalModels), or a tracking server
// (RemoteModels).
type ModelSource interface {
	// ResolveModel returns the version a models:/ URI names now.
	// Errors: Invalid (not such a URI), NotFound.
	ResolveModel(ctx context.Context, uri string) (*registry.ModelVersion, error)
	// FetchModel returns a local folder, under cacheDir, holding the files
	// of the version uri names, fetched once (see client.CacheModel).
	FetchModel(ctx context.Context, uri, cacheDir string) (string, error)
}

// RemoteModels fetches versions through a tracking server's REST API and
// artifact proxy.
type RemoteModels struct{ Client *client.Client }

// ResolveModel implements ModelSource.
func (m RemoteModels) ResolveModel(ctx context.Context, uri string) (*registry.ModelVersion, error) {
	return m.Client.ResolveVersion(ctx, uri)
}

// FetchModel implements ModelSource.
func (m RemoteModels) FetchModel(ctx context.Context, uri, cacheDir string) (string, error) {
	dir, _, err := m.Client.FetchModel(ctx, uri, cacheDir)
	return dir, err
}

// LocalModels reads versions straight from this process's registry and
// artifact stores, without an HTTP call: the model server inside `cairn
// server` needs neither a listener nor credentials of its own to load what
// the server holds.
type LocalModels struct {
	Registry *registry.Service
	// Files opens the artifact tree at a version's download URI. It refuses
	// locations outside the stores the server serves (PermissionDenied).
	Files func(ctx context.Context, uri string) (fs.FS, error)
}

// ResolveModel implements ModelSource.
func (m LocalModels) ResolveModel(ctx context.Context, uri string) (*registry.ModelVersion, error) {
	mv, err := m.Registry.Resolve(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", uri, err)
	}
	return mv, nil
}

// FetchModel implements ModelSource.
func (m LocalModels) FetchModel(ctx context.Context, uri, cacheDir string) (string, error) {
	v, err := m.ResolveModel(ctx, uri)
	if err != nil {
		return "", fmt.Errorf("fetch model: %w", err)
	}
	dir, err := client.CacheModel(cacheDir, v, func() (string, func(*os.Root) error, error) {
		loc, err := m.Registry.DownloadURI(ctx, v.Name, v.Version)
		if err != nil {
			return "", nil, err
		}
		files, err := m.Files(ctx, loc)
		if err != nil {
			return "", nil, err
		}
		return loc, func(root *os.Root) error { return os.CopyFS(root.Name(), files) }, nil
	})
	if err != nil {
		return "", fmt.Errorf("fetch model %s: %w", v, err)
	}
	return dir, nil
}

// servedModel adapts a train.Predictor to serve.Model.
type servedModel struct {
	*train.Predictor
	info serve.ModelInfo
}

// NewServedModel describes a loaded predictor for the model server.
func NewServedModel(p *train.Predictor) (serve.Model, error) {
	pkg := p.Package
	info := serve.ModelInfo{InputShape: pkg.InputShape, Classes: pkg.Classes, Platform: "cairn-gomlx"}
	switch {
	case pkg.Kind == train.KindImage || (pkg.Kind == train.KindONNX && pkg.Image != nil):
		info.Kind, info.Marginals = serve.KindImage, fingerMarginals(pkg.Classes)
	case len(pkg.Transform) > 0:
		info.Kind = serve.KindTable
		t, err := table.UnmarshalTransform(pkg.Transform)
		if err != nil {
			return nil, err
		}
		info.Label, info.ID = t.Label, t.ID
		for _, f := range t.Fields() {
			info.Inputs = append(info.Inputs, serve.Field{Name: f.Name, Type: string(f.Type), Optional: f.Optional, Choices: f.Choices, Min: f.Min, Max: f.Max})
		}
	default:
		return nil, errs.Invalidf("model %s: kind %s with neither image options nor a table transform cannot be served", p.Dir, pkg.Kind)
	}
	if pkg.Kind == train.KindONNX {
		info.Platform = "onnx-gomlx"
	}
	return servedModel{Predictor: p, info: info}, nil
}

func (m servedModel) Info() serve.ModelInfo { return m.info }

// Explain implements serve.Explainer (tree models; others answer Invalid).
func (m servedModel) Explain(x []float32, class int) ([]serve.Contribution, error) {
	cs, err := m.Predictor.Explain(x, class)
	if err != nil {
		return nil, err
	}
	out := make([]serve.Contribution, len(cs))
	for i, c := range cs {
		out[i] = serve.Contribution{Field: c.Field, Value: c.Value}
	}
	return out, nil
}

// fingerMarginals are what answers of a fingers model say besides the
// class: classes "0L".."5R" give the count and the hand apart; classes
// that are counts give the count as a number under "fingers".
func fingerMarginals(classes []string) []serve.Marginal {
	if images.HandClasses(classes) {
		count, hand := serve.Marginal{Name: "fingers", Numeric: true}, serve.Marginal{Name: "hand"}
		for _, c := range classes {
			count.Values, hand.Values = append(count.Values, c[:1]), append(hand.Values, c[1:])
		}
		return []serve.Marginal{count, hand}
	}
	for _, c := range classes {
		if _, err := strconv.Atoi(c); err != nil {
			return nil
		}
	}
	return []serve.Marginal{{Name: "fingers", Values: classes, Numeric: true}}
}
