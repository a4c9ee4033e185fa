package record

import "time"

// The vocabulary of Condition. query/traceql parses queries into the same
// types (its Scope, Intrinsic, Op and LiteralType are these; its Field and
// Literal convert to these), so a query's planning conditions reach a store
// as they are.

// Scope says where an attribute is looked up.
type Scope uint8

const (
	// ScopeNone is an unscoped attribute (.name): the span attribute if the
	// span has one by that name, otherwise the resource attribute, as in
	// Tempo. Intrinsics have ScopeNone too.
	ScopeNone Scope = iota
	ScopeSpan
	ScopeResource
)

func (s Scope) String() string {
	switch s {
	case ScopeSpan:
		return "span"
	case ScopeResource:
		return "resource"
	}
	return ""
}

// Intrinsic identifies a field that is not an attribute.
type Intrinsic uint8

const (
	IntrinsicNone            Intrinsic = iota
	IntrinsicName                      // name: the span name (string)
	IntrinsicStatus                    // status: ok, error or unset
	IntrinsicStatusMessage             // statusMessage (string)
	IntrinsicDuration                  // duration: the span's duration
	IntrinsicKind                      // kind: server, client, ...
	IntrinsicTraceDuration             // traceDuration: last span end - first span start
	IntrinsicRootName                  // rootName: the root span's name
	IntrinsicRootServiceName           // rootServiceName: the root span's service.name
)

var intrinsicNames = map[Intrinsic]string{
	IntrinsicName: "name", IntrinsicStatus: "status", IntrinsicStatusMessage: "statusMessage",
	IntrinsicDuration: "duration", IntrinsicKind: "kind", IntrinsicTraceDuration: "traceDuration",
	IntrinsicRootName: "rootName", IntrinsicRootServiceName: "rootServiceName",
}

// String is the intrinsic's TraceQL name.
func (i Intrinsic) String() string { return intrinsicNames[i] }

// TraceLevel reports whether the intrinsic has one value for the whole trace
// (traceDuration, rootName, rootServiceName) rather than one per span.
func (i Intrinsic) TraceLevel() bool {
	return i == IntrinsicTraceDuration || i == IntrinsicRootName || i == IntrinsicRootServiceName
}

// Field is what a condition tests: an intrinsic, or an attribute by scope
// and name.
type Field struct {
	Intrinsic Intrinsic // IntrinsicNone for an attribute
	Scope     Scope     // attributes only
	Name      string    // attribute name without its scope, e.g. "http.status_code"
}

// Op is a comparison operator.
type Op uint8

const (
	OpEqual Op = iota + 1
	OpNotEqual
	OpGreater
	OpGreaterEqual
	OpLess
	OpLessEqual
	OpRegex
	OpNotRegex
)

var opText = map[Op]string{
	OpEqual: "=", OpNotEqual: "!=", OpGreater: ">", OpGreaterEqual: ">=",
	OpLess: "<", OpLessEqual: "<=", OpRegex: "=~", OpNotRegex: "!~",
}

func (o Op) String() string { return opText[o] }

// LiteralType is the type of a condition's constant.
type LiteralType uint8

const (
	LiteralString LiteralType = iota + 1
	LiteralInt
	LiteralFloat
	LiteralBool
	LiteralDuration
	LiteralStatus // ok, error, unset (StatusName)
	LiteralKind   // server, client, producer, consumer, internal, unspecified (KindName)
)

// Literal is a condition's constant; only the field its Type names is
// meaningful.
type Literal struct {
	Type     LiteralType
	Str      string // LiteralString; the name for LiteralStatus and LiteralKind
	Int      int64
	Float    float64
	Bool     bool
	Duration time.Duration
}

// Condition is one field-operator-literal comparison, with TraceQL's
// semantics: a missing attribute, or one whose type does not compare with
// the literal, fails it whatever the operator.
type Condition struct {
	Field Field
	Op    Op
	Value Literal
}
