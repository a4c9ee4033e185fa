// Package qltest holds the golden-file harness of the query languages'
// script tests (query/logql, query/traceql): queries are read from
// testdata/*.txt, the test writes what it got for each, and CheckGolden
// compares that with testdata/*.golden. Run the tests with -update (a flag
// this package registers) to rewrite the golden files from the current
// behaviour. Import it from tests only.
package qltest
