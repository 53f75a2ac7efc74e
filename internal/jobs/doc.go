// Package jobs holds Cairn's use cases, the work a command or a step asks
// for by name: train a model as a tracked run (Train, with resume and
// cross-validation), and load a model for the model server (ModelLoader:
// resolve models:/ URIs, fetch a version's package once into a cache, and
// describe it to serve). Commands and step types call it; it drives the
// engines (data, train, serve) and talks to the tracking server through
// client. It imports errs, tracking, registry, data, train, serve and
// client; never steps, web or cmd.
package jobs
