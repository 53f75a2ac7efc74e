package examples

import "embed"

// Pipelines holds fingers/pipeline.yaml and titanic/pipeline.yaml.
//
//go:embed fingers/pipeline.yaml titanic/pipeline.yaml
var Pipelines embed.FS

// Names lists the reference pipelines in the order the demo runs them.
var Names = []string{"titanic", "fingers"}
