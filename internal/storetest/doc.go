// Package storetest opens Sightline's stores in a test's temporary
// directory, closed when the test ends, for the tests of the packages that
// write into the stores (the exporters, the embedded collector) or read
// them together (correlate).
package storetest
