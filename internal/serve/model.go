package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Model kinds: what a request carries.
const (
	KindImage = "image" // encoded PNG or JPEG images
	KindTable = "table" // records of named fields
)

// Model is a loaded model, safe for concurrent use.
type Model interface {
	// Info describes the model's inputs and outputs.
	Info() ModelInfo
	// Predict returns class probabilities for n prepared examples given
	// flat in x (n times the product of InputShape values). Errors:
	// Invalid (wrong size), Internal.
	Predict(x []float32, n int) ([][]float32, error)
	// CheckImage reads an encoded image's header, without decoding it,
	// and refuses an image that decoding and preprocessing would take
	// more than maxBytes of memory for. Errors: Invalid (not an image, or
	// not an image model), TooLarge naming the size and the limit.
	CheckImage(b []byte, maxBytes int64) error
	// PrepareImage decodes and preprocesses one encoded image as training
	// did, refusing what CheckImage refuses; it stops with ctx's error
	// once ctx ends. Errors: Invalid (not an image, or not an image
	// model), TooLarge, ctx's.
	PrepareImage(ctx context.Context, b []byte, maxBytes int64) ([]float32, error)
	// PrepareRecord applies the saved preprocessing to one record; optional
	// fields may be missing. Errors: Invalid naming the field.
	PrepareRecord(rec map[string]any) ([]float32, error)
}

// Explainer is implemented by models that can say how much each input
// field moved one prediction: Explain gives each field's contribution to
// the score of class for the prepared example x, largest magnitude first.
// POST /predict?explain=N answers the top N. Errors: Invalid (a model
// that cannot explain).
type Explainer interface {
	Explain(x []float32, class int) ([]Contribution, error)
}

// Contribution is one input field's part in a prediction's score.
type Contribution struct {
	Field string  `json:"field"`
	Value float64 `json:"value"`
}

// UnknownNoter is implemented by models that can say which category fields
// of a record held a value training never saw (the model reads them as
// unknown); the server counts them in cairn_serve_unknown_categories_total.
type UnknownNoter interface {
	PrepareRecordNoting(rec map[string]any) ([]float32, []string, error)
}

// ModelInfo describes a model to clients.
type ModelInfo struct {
	Kind       string   `json:"kind"` // KindImage or KindTable
	InputShape []int    `json:"input_shape"`
	Classes    []string `json:"classes"`
	// Inputs are a table model's request fields.
	Inputs []Field `json:"inputs,omitempty"`
	// Label is the name of the predicted column (tables), e.g. "Survived".
	Label string `json:"label,omitempty"`
	// ID is a table model's ID field (e.g. "PassengerId"), echoed in answers.
	ID string `json:"id,omitempty"`
	// Marginals are parts of the classes that answers give on their own,
	// e.g. the count and the hand of classes "0L".."5R".
	Marginals []Marginal `json:"marginals,omitempty"`
	// Platform names the runtime, e.g. "cairn-gomlx" or "onnx-gomlx".
	Platform string `json:"platform"`
}

// Marginal is one part of every class, answered on its own: under Name,
// the value whose classes together are likeliest, and, when a value stands
// for several classes, the probability of each value under
// Name_probabilities.
type Marginal struct {
	Name string `json:"name"`
	// Values holds each class's value of this part, in the order of Classes.
	Values []string `json:"values"`
	// Numeric says the values are integers, answered as numbers.
	Numeric bool `json:"numeric,omitempty"`
}

// Field is one request field of a table model.
type Field struct {
	Name string `json:"name"`
	Type string `json:"type"` // "number", "category", "boolean", "date" or "text"
	// Optional fields may be left out or null (read as unknown).
	Optional bool `json:"optional"`
	// Choices are a category's values in training (others read as
	// unknown); Min and Max a number's train range. Both guide clients.
	Choices []string `json:"choices,omitempty"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
}

// exampleSize is the number of values in one prepared example.
func (i ModelInfo) exampleSize() int {
	n := 1
	for _, d := range i.InputShape {
		n *= d
	}
	return n
}

// Loader finds and loads models for deployments.
type Loader interface {
	// Resolve returns the version uri points at now: for models:/name@alias
	// the alias's current version. Errors: NotFound, Invalid, Unavailable.
	Resolve(ctx context.Context, uri string) (version string, err error)
	// Load loads that version and runs it once, so that a broken package
	// fails here. Errors: NotFound, Invalid (a broken package), Internal.
	Load(ctx context.Context, uri, version string) (Model, error)
}

// Duration is a time.Duration written in JSON as a string such as "5ms".
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// ExpectedJSON says what a Duration is written as, for error messages.
func (Duration) ExpectedJSON() string { return `a duration string such as "5ms" or "2s"` }

// UnmarshalJSON reads a string such as "250ms" or "2s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		// A type error, so that the decoder names the field.
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Duration]()}
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return &json.UnmarshalTypeError{Value: strconv.Quote(s), Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}

// Config is one deployment: which model it serves and how.
type Config struct {
	// Name is the deployment's name: its URL is /serve/<name>/ and its OIP
	// model name is the same.
	Name string `json:"name"`
	// ModelURI is models:/name@alias, models:/name/version, or a folder.
	ModelURI string `json:"model_uri"`
	// MaxBatchSize is the most requests run as one batch (1: no batching).
	MaxBatchSize int `json:"max_batch_size,omitempty"`
	// MaxWait is how long a replica waits for more requests to fill a
	// batch once every other replica is busy. Zero (the default) waits
	// not at all: a batch is what queued while the replicas computed,
	// which fills batches under load and adds no latency without it.
	MaxWait Duration `json:"max_wait,omitempty"`
	// QueueSize bounds the examples waiting for a replica; beyond it a
	// request gets 503 at once, and a request of more examples than it
	// holds gets 413.
	QueueSize int `json:"queue_size,omitempty"`
	// Replicas is the number of batches computed at once.
	Replicas int `json:"replicas,omitempty"`
	// Timeout bounds one request, waiting for a decoder and queueing
	// included.
	Timeout Duration `json:"timeout,omitempty"`
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// MaxImageBytes bounds the memory decoding and preprocessing one
	// image may take, read from its header before decoding: width x
	// height x bytes per pixel of its colour model, with the decoder's
	// and the resize's buffers. A larger image gets 413.
	MaxImageBytes int64 `json:"max_image_bytes,omitempty"`
	// Poll is how often the model URI is resolved again, so a moved alias
	// is picked up (0: the default; negative: never).
	Poll Duration `json:"poll,omitempty"`
	// Addr, when set, also serves this deployment alone on its own
	// address (host:port), with its endpoints at the root.
	Addr string `json:"addr,omitempty"`
	// LastGood is the last version that served, kept by the Manager: when
	// the URI points at a broken version at start, this one serves.
	LastGood string `json:"last_good_version,omitempty"`
}

// Defaults for Config fields left zero.
const (
	DefaultMaxBatchSize  = 32
	DefaultQueueSize     = 512
	DefaultTimeout       = Duration(30 * time.Second)
	DefaultMaxBodyBytes  = 8 << 20
	DefaultMaxImageBytes = 64 << 20
	DefaultPoll          = Duration(5 * time.Second)
	// MaxQueueSize bounds queue_size: each replica's queue is allocated
	// when the version loads.
	MaxQueueSize = 1 << 20
)

// withDefaults returns c with zero fields set; replicas defaults to cpus.
func (c Config) withDefaults(cpus int) Config {
	if c.MaxBatchSize == 0 {
		c.MaxBatchSize = DefaultMaxBatchSize
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Replicas == 0 {
		c.Replicas = max(1, cpus)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxImageBytes == 0 {
		c.MaxImageBytes = DefaultMaxImageBytes
	}
	if c.Poll == 0 {
		c.Poll = DefaultPoll
	}
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var problems []string
	if !validName(c.Name) {
		problems = append(problems, fmt.Sprintf("name %q: expected 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit", c.Name))
	}
	if c.ModelURI == "" {
		problems = append(problems, "model_uri is required (models:/name@alias, models:/name/version or a folder)")
	}
	if c.MaxBatchSize < 0 || c.MaxBatchSize > 1024 {
		problems = append(problems, fmt.Sprintf("max_batch_size %d: expected 1 to 1024", c.MaxBatchSize))
	}
	if c.QueueSize < 0 || c.QueueSize > MaxQueueSize {
		problems = append(problems, fmt.Sprintf("queue_size %d: expected 1 to %d", c.QueueSize, MaxQueueSize))
	}
	if c.Replicas < 0 || c.Replicas > 256 {
		problems = append(problems, fmt.Sprintf("replicas %d: expected 1 to 256", c.Replicas))
	}
	if c.MaxBodyBytes < 0 {
		problems = append(problems, fmt.Sprintf("max_body_bytes %d: expected a positive number", c.MaxBodyBytes))
	}
	if c.MaxImageBytes < 0 {
		problems = append(problems, fmt.Sprintf("max_image_bytes %d: expected a positive number", c.MaxImageBytes))
	}
	if c.Timeout < 0 || c.MaxWait < 0 {
		problems = append(problems, "timeout and max_wait must not be negative")
	}
	if len(problems) > 0 {
		return errs.Invalidf("deployment %q: %s", c.Name, strings.Join(problems, "; "))
	}
	return nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '-' || r == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}
