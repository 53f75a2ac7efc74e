package registry

// Service validates registry requests and passes them to a Store.
type Service struct{}

// NewService returns a Service. The registry's store and routes come in the
// next change; until then the server mounts no registry endpoints.
func NewService(store, runs any) *Service { return &Service{} }
