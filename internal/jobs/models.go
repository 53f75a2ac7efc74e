package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
// versions (models:/name@alias, models:/name/3) fetched once through the
// tracking server into CacheDir, or package folders.
type ModelLoader struct {
	Client   *client.Client // needed for models:/ URIs
	CacheDir string
	Backend  string // "" for the default
}

// Resolve returns the version uri points at now: the registry's version
// number, or for a folder a hash of its package manifest (so a package
// rewritten in place is a new version).
func (l ModelLoader) Resolve(ctx context.Context, uri string) (string, error) {
	if strings.HasPrefix(uri, "models:/") {
		if l.Client == nil {
			return "", errs.Invalidf("resolve %s: a tracking server is needed for models:/ URIs", uri)
		}
		mv, _, err := l.Client.ResolveModelURI(ctx, uri)
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
	p, err := LoadModel(ctx, l.Client, uri, l.CacheDir, l.Backend)
	if err != nil {
		return nil, err
	}
	return NewServedModel(p)
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
		for _, c := range t.Inputs() {
			info.Inputs = append(info.Inputs, serve.Field{Name: c.Name, Type: string(c.Type), Optional: c.Optional})
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
