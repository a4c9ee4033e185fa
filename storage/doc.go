// Package storage is the root of Sightline's storage engines. Each signal has
// its own engine in a subpackage (tsdbstore for metrics), and every engine lays
// its data out per tenant under <data-dir>/tenants/<tenant>/<signal>, with the
// tenant taken from the request context (see package tenant). Package
// record holds what the stores and the query side share; no storage package
// imports a query package (imports_test.go checks it).
package storage
