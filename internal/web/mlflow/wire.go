package mlflow

import "github.com/cairn-mlops/cairn/internal/api/wire"

// Short names for the wire types the handlers use.
type (
	Int64            = wire.Int64
	Float            = wire.Float
	wireTag          = wire.Tag
	wireParam        = wire.Param
	wireMetric       = wire.Metric
	wireExperiment   = wire.Experiment
	wireRun          = wire.Run
	wireDatasetInput = wire.DatasetInput
	wireModelIO      = wire.ModelIO
)

var (
	toWireTags       = wire.FromTags
	fromWireTags     = wire.ToTags
	toWireExperiment = wire.FromExperiment
	toWireMetric     = wire.FromMetric
	toWireRunInfo    = wire.FromRunInfo
	toWireRun        = wire.FromRun
)
