// Package logql implements a subset of Loki's LogQL.
package logql
