// Package ui serves Sightline's built-in web UI: the pages that explore
// metrics, logs and traces and follow one trace ID across all three.
//
// The UI is a single-page application written in TypeScript under src/
// (Preact for components, uPlot for charts), bundled by esbuild into dist/
// with `make ui`. dist/ is committed and embedded here with go:embed, so
// that `go build` needs no Node; `make test` rebuilds it and fails if the
// committed copy differs from the sources.
//
// Handler is the whole of it: the files of dist/ at their paths, and
// index.html for any other page path, as the UI routes in the URL's
// fragment. The UI talks only to Sightline's public HTTP APIs.
package ui
