package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// DefaultBackend is the backend used when none is named: GoMLX's pure-Go
// backend, which needs no C libraries and runs everywhere.
const DefaultBackend = "go"

// newXLA opens an XLA backend on a PJRT plugin; it is set by backend_xla.go
// when the binary is built with the "xla" build tag.
var newXLA func(plugin string) (backends.Backend, error)

// OpenBackend opens the compute backend named by spec: "go" (the default,
// pure Go; "go:parallelism=N" passes options to it) or "xla:/abs/path/to/pjrt_plugin.so" (needs a binary built with
// -tags xla). It never downloads anything and returns an Invalid error
// instead of failing later when the plugin is missing.
func OpenBackend(spec string) (b backends.Backend, err error) {
	if spec == "" {
		spec = DefaultBackend
	}
	switch {
	case spec == "go" || strings.HasPrefix(spec, "go:"):
		// Graph nodes run one after another, each op using every core:
		// running nodes in parallel as well can deadlock the backend's
		// worker pool when a matmul waits for workers held by its siblings.
		config := "ops_sequential"
		if extra := strings.TrimPrefix(spec, "go"); extra != "" {
			config += "," + extra[1:]
		}
		defer recoverInto(&err, "open backend go")
		return simplego.New(config)
	case strings.HasPrefix(spec, "xla:"):
		plugin := strings.TrimPrefix(spec, "xla:")
		if !filepath.IsAbs(plugin) {
			return nil, errs.Invalidf("backend %q: the PJRT plugin must be an absolute path, e.g. xla:/opt/pjrt/pjrt_c_api_cuda_plugin.so", spec)
		}
		if _, err := os.Stat(plugin); err != nil {
			return nil, errs.Invalidf("backend %q: PJRT plugin not found: %v", spec, err)
		}
		if newXLA == nil {
			return nil, errs.Invalidf("backend %q: this cairn binary was built without XLA support; rebuild it with 'go build -tags xla ./cmd/cairn'", spec)
		}
		defer recoverInto(&err, "open backend xla")
		return newXLA(plugin)
	}
	return nil, errs.Invalidf("backend %q: expected \"go\", \"go:OPTIONS\" or \"xla:/abs/path/plugin.so\"", spec)
}

// recoverInto turns a panic (GoMLX reports most errors by panicking) into an
// error stored in *err, so panics never leave this package.
func recoverInto(err *error, op string) {
	if r := recover(); r != nil {
		if e, ok := r.(error); ok {
			*err = fmt.Errorf("%s: %w", op, e)
			return
		}
		*err = fmt.Errorf("%s: %v", op, r)
	}
}
