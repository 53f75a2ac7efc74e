package registry

import (
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// Limits on registry input, as MLflow sets them.
const (
	MaxNameLength            = 256 // MLflow's name column
	MaxTagKeyLength          = 250
	MaxTagValueLength        = 5000
	MaxAliasLength           = 255
	DefaultMaxResults        = 100 // registered-models/search
	MaxResults               = 1000
	DefaultMaxVersionResults = 200_000 // model-versions/search
	MaxVersionResults        = 200_000
)

// Service validates registry requests, resolves model sources and URIs, and
// passes the requests to a Store.
type Service struct {
	store Store
	runs  Runs
	now   func() time.Time
}

// NewService returns a Service over store. runs checks the runs that
// versions name and resolves runs:/ and models:/m-<id> sources; it may be
// nil, and then sources are stored as given.
func NewService(store Store, runs Runs) *Service {
	return &Service{store: store, runs: runs, now: time.Now}
}

// Store returns the underlying store.
func (s *Service) Store() Store { return s.store }

func (s *Service) millis() int64 { return s.now().UnixMilli() }

func validateName(name string) error {
	if name == "" {
		return errs.Missing("name")
	}
	if len(name) > MaxNameLength {
		return errs.Invalidf("Registered model name '%.250s' had length %d, which exceeded length limit of %d", name, len(name), MaxNameLength)
	}
	return nil
}

// validateTag checks a tag of a registered model (what = "Registered model")
// or of a version (what = "Model version") with MLflow's limits and words.
func validateTag(what string, t Tag) error {
	if t.Key == "" {
		return errs.Missing("key")
	}
	if len(t.Key) > MaxTagKeyLength {
		return errs.Invalidf("%s key '%.250s' had length %d, which exceeded length limit of %d", what, t.Key, len(t.Key), MaxTagKeyLength)
	}
	if err := tracking.ValidateKey("tag", t.Key); err != nil {
		return err
	}
	if len(t.Value) > MaxTagValueLength {
		return errs.Invalidf("%s value '%.250s' had length %d, which exceeded length limit of %d", what, t.Value, len(t.Value), MaxTagValueLength)
	}
	return nil
}

func validateTags(what string, tags []Tag) error {
	for _, t := range tags {
		if err := validateTag(what, t); err != nil {
			return err
		}
	}
	return nil
}
