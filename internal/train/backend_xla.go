//go:build xla

package train

import (
	"os"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

func init() {
	newXLA = func(plugin string) (backends.Backend, error) {
		// Never let the XLA backend fetch plugins from the network.
		os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
		return xla.New(plugin)
	}
}
