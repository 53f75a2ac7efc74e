package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const mod = "github.com/cairn-mlops/cairn/"

// allowed lists, per package, the Cairn packages it may import (directly or
// not). Packages missing from the list may import anything of Cairn's.
var allowed = map[string][]string{
	"internal/errs":            {},
	"examples":                 {},
	"internal/tracking":        {"internal/errs"},
	"internal/auth":            {"internal/errs"},
	"internal/registry":        {"internal/errs", "internal/tracking"},
	"internal/store/artifacts": {"internal/errs"},
	"internal/store/meta":      {"internal/errs", "internal/tracking", "internal/registry", "internal/auth", "internal/pipeline"},
	"internal/pipeline":        {"internal/errs", "internal/tracking"},
	"internal/steps":           {"internal/errs", "internal/tracking", "internal/registry", "internal/pipeline", "internal/data", "internal/train", "internal/client", "internal/web/mlflow/wire", "internal/serve", "internal/web/respond", "internal/tune"},
	"internal/train":           {"internal/errs", "internal/data"},
	"internal/web/pipelines":   {"internal/errs", "internal/tracking", "internal/pipeline", "internal/web/respond", "internal/auth"},
	"internal/web/respond":     {"internal/errs"},
	"internal/serve":           {"internal/errs", "internal/web/respond"},
	"internal/tune":            {"internal/errs"},
	"internal/web/ui":          {"internal/errs", "internal/web/respond"},
	"internal/data":            {"internal/errs"},
	"internal/data/images":     {"internal/errs", "internal/data"},
	"internal/data/table":      {"internal/errs", "internal/data"},
	"internal/web/mlflow/wire": {"internal/errs", "internal/tracking", "internal/registry"},
	"internal/client":          {"internal/errs", "internal/tracking", "internal/registry", "internal/web/mlflow/wire"},
}

// homes names the only Cairn packages that may import a third-party module.
var homes = map[string][]string{
	"modernc.org/sqlite":                  {"internal/store/meta"},
	"github.com/jackc/pgx":                {"internal/store/meta"},
	"github.com/aws/aws-sdk-go-v2":        {"internal/store/artifacts"},
	"github.com/spf13/cobra":              {"cmd/cairn"},
	"golang.org/x/crypto":                 {"internal/auth"},
	"golang.org/x/image":                  {"internal/data/images"},
	"github.com/schollz/progressbar":      {"cmd/cairn"},
	"github.com/prometheus/client_golang": {"internal/web", "internal/serve", "cmd/cairn"},
	"github.com/robfig/cron":              {"internal/pipeline"},
	"github.com/rs/cors":                  {"internal/web"},
	"github.com/landlock-lsm/go-landlock": {"internal/pipeline"},
	"go.yaml.in/yaml":                     {"internal/pipeline", "internal/train", "internal/tune"},
	"github.com/gomlx":                    {"internal/train"},
	"gonum.org/v1/plot":                   {"internal/train"},
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
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
		if !listed {
			continue
		}
		for _, d := range p.Deps {
			if !strings.HasPrefix(d, mod) {
				continue
			}
			dep := strings.TrimPrefix(d, mod)
			found := false
			for _, a := range ok {
				if dep == a || strings.HasPrefix(dep, a+"/") {
					found = true
				}
			}
			require.True(t, found, "%s must not import %s (allowed: %v)", rel, dep, ok)
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
