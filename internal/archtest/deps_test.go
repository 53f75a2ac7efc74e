package archtest

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const mod = "github.com/cairn-mlops/cairn/"

// allowed lists, for every package of the module, the Cairn packages it
// may import directly: the layering, bottom to top (errs; api; the domain;
// engines and adapters; use cases and glue; cmd). A package missing here
// fails the test, so a new package says where it stands.
var allowed = map[string][]string{
	"internal/errs":            {},
	"internal/exec":            {},
	"internal/strictyaml":      {},
	"internal/metrics":         {},
	"internal/api":             {"internal/errs"},
	"internal/artifact":        {"internal/errs"},
	"internal/tracking":        {"internal/errs"},
	"internal/auth":            {"internal/errs"},
	"internal/tune":            {"internal/errs", "internal/strictyaml"},
	"internal/registry":        {"internal/errs", "internal/tracking"},
	"internal/api/wire":        {"internal/errs", "internal/tracking", "internal/registry"},
	"internal/pipeline/spec":   {"internal/errs", "internal/strictyaml"},
	"internal/pipeline":        {"internal/errs", "internal/exec", "internal/pipeline/spec", "internal/tracking", "internal/artifact"},
	"internal/data":            {"internal/errs"},
	"internal/trees":           {"internal/errs"},
	"internal/train":           {"internal/errs", "internal/data", "internal/data/images", "internal/data/table", "internal/trees"},
	"internal/serve":           {"internal/errs", "internal/api", "internal/metrics"},
	"internal/store/artifacts": {"internal/errs", "internal/artifact"},
	"internal/store/meta":      {"internal/errs", "internal/tracking", "internal/registry", "internal/auth", "internal/pipeline"},
	"internal/data/images":     {"internal/errs", "internal/data"},
	"internal/data/table":      {"internal/errs", "internal/data", "internal/strictyaml"},
	"internal/client":          {"internal/errs", "internal/api", "internal/api/wire", "internal/tracking", "internal/registry"},
	"internal/jobs": {"internal/errs", "internal/tracking", "internal/registry", "internal/data", "internal/data/images", "internal/data/table",
		"internal/train", "internal/serve", "internal/client", "internal/exec", "internal/tune", "internal/pipeline/spec"},
	"internal/steps": {"internal/errs", "internal/exec", "internal/tracking", "internal/registry", "internal/pipeline/spec", "internal/data",
		"internal/data/images", "internal/data/table", "internal/train", "internal/tune", "internal/serve", "internal/client", "internal/jobs"},
	"internal/web":           {"internal/errs", "internal/api", "internal/metrics"},
	"internal/web/ui":        {"internal/errs", "internal/api"},
	"internal/web/pipelines": {"internal/errs", "internal/api", "internal/auth", "internal/pipeline", "internal/tracking"},
	"internal/web/mlflow":    {"internal/errs", "internal/api", "internal/api/wire", "internal/tracking", "internal/registry", "internal/artifact"},
	"internal/webtest": {"internal/errs", "internal/tracking", "internal/registry", "internal/store/meta", "internal/store/artifacts",
		"internal/web", "internal/web/mlflow"},
	"internal/archtest":          {},
	"examples":                   {},
	"cmd/cairn":                  {"*"},
	"cmd/cairn-image":            {"internal/image"},
	"internal/image":             {"internal/errs"},
	"internal/k8s/k8stest":       {"internal/image"},
	"internal/k8s/k8stest/pause": {},
	"internal/k8s":               {"internal/exec"},
}

// homes names the only Cairn packages that may import a third-party module.
var homes = map[string][]string{
	"modernc.org/sqlite":                     {"internal/store/meta"},
	"github.com/jackc/pgx":                   {"internal/store/meta"},
	"github.com/aws/aws-sdk-go-v2":           {"internal/store/artifacts"},
	"github.com/spf13/cobra":                 {"cmd/cairn"},
	"mvdan.cc/sh":                            {"cmd/cairn"},
	"github.com/google/go-containerregistry": {"internal/image"},
	"k8s.io/":                                {"internal/k8s"},
	"golang.org/x/crypto":                    {"internal/auth"},
	"golang.org/x/image":                     {"internal/data/images"},
	"github.com/schollz/progressbar":         {"cmd/cairn"},
	"github.com/prometheus/client_golang":    {"internal/metrics", "internal/web", "internal/serve", "cmd/cairn"},
	"github.com/robfig/cron":                 {"internal/pipeline"},
	"github.com/rs/cors":                     {"internal/web"},
	"github.com/landlock-lsm/go-landlock":    {"internal/exec"},
	"go.yaml.in/yaml":                        {"internal/strictyaml", "internal/pipeline/spec", "internal/train", "internal/tune", "internal/data/table"},
	"github.com/gomlx":                       {"internal/train"},
	"gonum.org/v1/plot":                      {"internal/train"},
	"github.com/dmitryikh/leaves":            {"internal/trees"}, // its tests: leaves reads the models trees writes
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	out, err := exec.Command("go", "list", "-json", "github.com/cairn-mlops/cairn/...").Output()
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for dec.More() {
		var p pkg
		require.NoError(t, dec.Decode(&p))
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportsPointDown(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		ok, listed := allowed[rel]
		require.True(t, listed, "package %s has no entry in archtest's allowed table: say what it may import", rel)
		if slices.Contains(ok, "*") {
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			require.True(t, slices.Contains(ok, dep), "%s must not import %s (allowed: %v)", rel, dep, ok)
		}
	}
}

// TestForbiddenEdges names the edges the layering exists to prevent, so
// that loosening the table for one of them is a visible decision.
func TestForbiddenEdges(t *testing.T) {
	for _, e := range [][2]string{
		{"internal/serve", "internal/web"}, {"internal/serve", "internal/train"}, {"internal/client", "internal/web"},
		{"internal/client", "internal/web/mlflow"}, {"internal/pipeline", "internal/steps"}, {"internal/tracking", "internal/store/meta"},
		{"internal/registry", "internal/store/meta"}, {"internal/exec", "internal/pipeline"}, {"internal/api", "internal/web"},
		{"internal/jobs", "internal/steps"}, {"internal/jobs", "internal/web"},
		{"internal/data/images", "internal/data/table"}, {"internal/data/table", "internal/data/images"}, {"internal/data", "internal/data/images"},
		{"internal/data", "internal/data/table"}, {"internal/data", "internal/train"},
		{"internal/pipeline/spec", "internal/pipeline"}, {"internal/pipeline/spec", "internal/exec"},
	} {
		require.False(t, slices.Contains(allowed[e[0]], e[1]), "the table lets %s import %s", e[0], e[1])
	}
	for pkg, deps := range allowed {
		for _, d := range deps {
			if pkg == "internal/web" || strings.HasPrefix(pkg, "internal/web/") {
				require.False(t, strings.HasPrefix(d, "internal/store/"), "%s may not import a store backend (%s): cmd wires them in", pkg, d)
			}
			if strings.HasPrefix(pkg, "internal/") && !strings.HasPrefix(pkg, "internal/web") && pkg != "internal/archtest" {
				require.False(t, strings.HasPrefix(d, "internal/web"), "%s may not import the web server (%s)", pkg, d)
			}
		}
	}
}

func TestHeavyDependenciesHaveOneHome(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, imp := range p.Imports {
			for module, home := range homes {
				if !strings.HasPrefix(imp, module) {
					continue
				}
				inHome := false
				for _, h := range home {
					if rel == h || strings.HasPrefix(rel, h+"/") {
						inHome = true
					}
				}
				require.True(t, inHome, "%s imports %s, which belongs only in %v", rel, imp, home)
			}
		}
	}
}

// TestWebtestOnlyInTests keeps the test server, which builds the store
// backends for the web packages, out of every binary: cmd/cairn may import
// anything, but not it.
func TestWebtestOnlyInTests(t *testing.T) {
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		require.NotContains(t, p.Imports, mod+"internal/webtest", "%s imports internal/webtest outside its tests", rel)
	}
}
