// Package ui serves Cairn's web UI: the single-page app built from web/ui
// (TypeScript, Vite) and embedded into the binary with go:embed. Hashed
// assets are served with long-lived caching, every other GET path that is not
// an API route gets index.html so the app's client-side routes work on
// reload. It never answers for the API prefixes (/api/, /ajax-api/, /serve/,
// /v2/, /health, /version, /metrics): an unknown API path gets a JSON 404.
// It imports api only.
package ui
