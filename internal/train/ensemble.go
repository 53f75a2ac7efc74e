package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// ModelEnsemble is the soft-voting ensemble of table models: its class
// probabilities are the mean of its members'. Each member trains on the
// same splits with the ensemble's options (Options.Members names them),
// cross-validation trains every member per fold, and the package holds the
// members' packages.
const ModelEnsemble = "ensemble"

// DefaultEnsemble are the members of an ensemble when none are named: the
// three best models on Titanic's repeated cross-validation.
var DefaultEnsemble = []string{ModelGBDT, ModelRF, "mlp"}

// maxMembers bounds an ensemble: each member costs a full training.
const maxMembers = 8

// membersDir is where an ensemble package keeps its members' packages.
const membersDir = "members"

// ensembleMembers returns the member models, defaulted.
func (o Options) ensembleMembers() []string {
	if len(o.Members) == 0 {
		return DefaultEnsemble
	}
	return o.Members
}

// member returns the options one member trains with: the ensemble's, for
// its own model, without the ensemble's hooks, checkpointing in a folder
// of its own.
func (o Options) member(name string) Options {
	m := o
	m.Model, m.Members, m.OnEpoch, m.OnBatch = name, nil, nil, nil
	if o.CheckpointDir != "" {
		m.CheckpointDir = filepath.Join(o.CheckpointDir, membersDir, name)
	}
	return m
}

// validateEnsemble checks the members: 2 to 8 distinct table models, none
// an ensemble, each with valid options.
func (o Options) validateEnsemble(kind string) error {
	names := o.ensembleMembers()
	if len(names) < 2 || len(names) > maxMembers {
		return errs.Invalidf("ensemble of %d members: expected 2 to %d", len(names), maxMembers)
	}
	for i, n := range names {
		switch {
		case n == ModelEnsemble:
			return errs.Invalidf("ensemble member %q: an ensemble cannot hold an ensemble", n)
		case slices.Contains(names[:i], n):
			return errs.Invalidf("ensemble member %q named twice", n)
		}
		m := o.member(n)
		if err := m.Validate(kind); err != nil {
			return fmt.Errorf("ensemble member %s: %w", n, err)
		}
	}
	return nil
}

// ensembleNet averages its members' class probabilities.
type ensembleNet struct{ members []network }

func (e ensembleNet) PredictBatch(x []float32, n int) ([][]float32, error) {
	var sum [][]float32
	for i, m := range e.members {
		p, err := m.PredictBatch(x, n)
		if err != nil {
			return nil, fmt.Errorf("ensemble member %d: %w", i+1, err)
		}
		if sum == nil {
			sum = p
			continue
		}
		for j := range sum {
			for c := range sum[j] {
				sum[j][c] += p[j][c]
			}
		}
	}
	inv := 1 / float32(len(e.members))
	for j := range sum {
		for c := range sum[j] {
			sum[j][c] *= inv
		}
	}
	return sum, nil
}

// trainEnsemble trains every member on ds and evaluates their average.
func trainEnsemble(ctx context.Context, ds *data.Dataset, opt Options, arch Architecture) (*Model, *Result, error) {
	start := time.Now()
	m := &Model{Arch: arch, Manifest: ds.Manifest}
	res := &Result{BestEpoch: 1}
	var stopped []string
	for _, name := range opt.ensembleMembers() {
		mm, mr, err := Train(ctx, ds, opt.member(name))
		if err != nil {
			return nil, nil, fmt.Errorf("ensemble member %s: %w", name, err)
		}
		m.members = append(m.members, mm)
		if mr.Stopped != "" {
			stopped = append(stopped, name+": "+mr.Stopped)
		}
	}
	res.Stopped = strings.Join(stopped, "; ")
	e := EpochMetrics{Epoch: 1, Duration: time.Since(start), Images: len(ds.Manifest.Splits[data.SplitTrain])}
	if err := m.finishOneShot(ds, res, e); err != nil {
		return nil, nil, err
	}
	if opt.OnEpoch != nil {
		if err := opt.OnEpoch(res.History[0]); err != nil {
			return nil, nil, err
		}
	}
	return m, res, nil
}

// memberNets are an ensemble model's members as networks.
func (m *Model) memberNets() ensembleNet {
	nets := make([]network, len(m.members))
	for i, mm := range m.members {
		nets[i] = mm
	}
	return ensembleNet{nets}
}

// saveMembers writes each member's package under dir/members and returns
// their folders, relative to dir.
func (m *Model) saveMembers(dir string) ([]string, error) {
	if err := os.MkdirAll(filepath.Join(dir, membersDir), 0o755); err != nil {
		return nil, err
	}
	var rel []string
	for i, mm := range m.members {
		r := filepath.ToSlash(filepath.Join(membersDir, fmt.Sprintf("%d-%s", i+1, mm.Arch.Name)))
		if _, err := mm.SavePackage(filepath.Join(dir, r), nil, nil); err != nil {
			return nil, fmt.Errorf("ensemble member %s: %w", mm.Arch.Name, err)
		}
		rel = append(rel, r)
	}
	return rel, nil
}

// loadEnsemble loads an ensemble package's members, each a table package
// under the package's own folder with the same inputs, classes and
// transform, none an ensemble.
func loadEnsemble(dir, backend string, pkg *Package) (network, error) {
	if len(pkg.Members) < 2 || len(pkg.Members) > maxMembers {
		return nil, errs.Invalidf("load model %s: an ensemble of %d members: expected 2 to %d", dir, len(pkg.Members), maxMembers)
	}
	var nets []network
	for _, rel := range pkg.Members {
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			return nil, errs.Invalidf("load model %s: ensemble member %q is not a folder inside the package", dir, rel)
		}
		mdir := filepath.Join(dir, filepath.FromSlash(rel))
		mp, err := ReadPackage(mdir)
		if err != nil {
			return nil, fmt.Errorf("load model %s: ensemble member %s: %w", dir, rel, err)
		}
		if mp.Architecture == ModelEnsemble || mp.Kind != KindTable {
			return nil, errs.Invalidf("load model %s: ensemble member %s is a %s %s: expected a table model that is not an ensemble", dir, rel, mp.Kind, mp.Architecture)
		}
		if !slices.Equal(mp.InputShape, pkg.InputShape) || !slices.Equal(mp.Classes, pkg.Classes) || !sameJSON(mp.Transform, pkg.Transform) {
			return nil, errs.Invalidf("load model %s: ensemble member %s takes other inputs or classes than the ensemble", dir, rel)
		}
		p, err := LoadPredictor(mdir, backend)
		if err != nil {
			return nil, err
		}
		nets = append(nets, p.net)
	}
	return ensembleNet{nets}, nil
}

// sameJSON reports whether two JSON documents are the same but for spacing.
func sameJSON(a, b json.RawMessage) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}
