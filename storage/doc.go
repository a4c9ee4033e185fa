// Package storage is the root of Sightline's storage engines. Each signal has
// its own engine in a subpackage (tsdbstore for metrics), and every engine lays
// its data out per tenant under <data-dir>/tenants/<tenant>/<signal>, with the
// tenant taken from the request context (see package tenant).
package storage
