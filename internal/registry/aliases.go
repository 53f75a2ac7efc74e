package registry

import (
	"context"
	"regexp"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

var (
	aliasChars  = regexp.MustCompile(`^[\w\-]*$`)
	versionLike = regexp.MustCompile(`^[vV]\d+$`)
)

// ValidateAlias checks an alias name as MLflow does: letters, digits, '_' and
// '-' only, at most 255 characters, not "latest" in any case and not
// version-like ("v1", "V12").
func ValidateAlias(alias string) error {
	switch {
	case alias == "":
		return errs.Missing("alias")
	case !aliasChars.MatchString(alias):
		return errs.Invalidf("Invalid alias name: '%s'. Names may only contain alphanumerics, underscores (_), and dashes (-).", alias)
	case len(alias) > MaxAliasLength:
		return errs.Invalidf("Registered model alias name '%.250s' had length %d, which exceeded length limit of %d", alias, len(alias), MaxAliasLength)
	case strings.EqualFold(alias, "latest"):
		return errs.Invalidf("'latest' alias name (case insensitive) is reserved.")
	case versionLike.MatchString(alias):
		return errs.Invalidf("Version alias name '%s' is reserved.", alias)
	}
	return nil
}

func parseStage(stage string) (string, error) {
	if stage == "" {
		return "", errs.Missing("stage")
	}
	st := CanonicalStage(stage)
	if st == "" {
		return "", errs.Invalidf("Invalid Model Version stage: %s. Value must be one of %s.", stage, strings.Join(Stages, ", "))
	}
	return st, nil
}

// TransitionStage moves a version to a stage named in any letter case. With
// archiveExisting, which MLflow allows only for Staging and Production, the
// model's other versions in that stage move to Archived.
func (s *Service) TransitionStage(ctx context.Context, name string, version int64, stage string, archiveExisting bool) (*ModelVersion, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	st, err := parseStage(stage)
	if err != nil {
		return nil, err
	}
	if archiveExisting && st != StageStaging && st != StageProduction {
		return nil, errs.Invalidf("Model version transition cannot archive existing model versions because '%s' is not an Active stage. Valid stages are ['Staging', 'Production']", stage)
	}
	return s.store.TransitionStage(ctx, name, version, st, archiveExisting, s.millis())
}

// SetAlias validates an alias and points it at a version.
func (s *Service) SetAlias(ctx context.Context, name, alias string, version int64) error {
	if err := validateName(name); err != nil {
		return err
	}
	if err := ValidateAlias(alias); err != nil {
		return err
	}
	return s.store.SetAlias(ctx, name, alias, version)
}

// DeleteAlias removes an alias.
func (s *Service) DeleteAlias(ctx context.Context, name, alias string) error {
	if err := validateName(name); err != nil {
		return err
	}
	if err := ValidateAlias(alias); err != nil {
		return err
	}
	return s.store.DeleteAlias(ctx, name, alias)
}

// FindVersionByAlias returns the version an alias points at.
func (s *Service) FindVersionByAlias(ctx context.Context, name, alias string) (*ModelVersion, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	if err := ValidateAlias(alias); err != nil {
		return nil, err
	}
	return s.store.FindVersionByAlias(ctx, name, alias)
}
