package mlflow

// registryRoutes mounts the model-registry routes.
func (h *Handler) registryRoutes(add func(methods, path string, f apiFunc)) {}
