package traceql

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/storage/record"
)

// Scope, Intrinsic, Op and LiteralType are storage/record's: a query's
// conditions (Query.Conditions) reach the trace store as they are, through
// the engine's fetcher (see Search), and storage does not import this
// package. The constants are repeated here so that queries read as TraceQL.
type (
	// Scope says where an attribute is looked up.
	Scope = record.Scope
	// Intrinsic identifies a field that is not an attribute.
	Intrinsic = record.Intrinsic
	// Op is a comparison operator.
	Op = record.Op
	// LiteralType is the type of a literal in a query.
	LiteralType = record.LiteralType
)

// Scopes. ScopeNone is an unscoped attribute (.name): the span attribute if
// the span has one by that name, otherwise the resource attribute, as in
// Tempo; intrinsics have ScopeNone too.
const (
	ScopeNone     = record.ScopeNone
	ScopeSpan     = record.ScopeSpan
	ScopeResource = record.ScopeResource
)

// Intrinsics.
const (
	IntrinsicNone            = record.IntrinsicNone
	IntrinsicName            = record.IntrinsicName            // name: the span name (string)
	IntrinsicStatus          = record.IntrinsicStatus          // status: ok, error or unset
	IntrinsicStatusMessage   = record.IntrinsicStatusMessage   // statusMessage (string)
	IntrinsicDuration        = record.IntrinsicDuration        // duration: the span's duration
	IntrinsicKind            = record.IntrinsicKind            // kind: server, client, ...
	IntrinsicTraceDuration   = record.IntrinsicTraceDuration   // traceDuration: last span end - first span start
	IntrinsicRootName        = record.IntrinsicRootName        // rootName: the root span's name
	IntrinsicRootServiceName = record.IntrinsicRootServiceName // rootServiceName: the root span's service.name
)

// Comparison operators.
const (
	OpEqual        = record.OpEqual
	OpNotEqual     = record.OpNotEqual
	OpGreater      = record.OpGreater
	OpGreaterEqual = record.OpGreaterEqual
	OpLess         = record.OpLess
	OpLessEqual    = record.OpLessEqual
	OpRegex        = record.OpRegex
	OpNotRegex     = record.OpNotRegex
)

// Literal types.
const (
	LiteralString   = record.LiteralString
	LiteralInt      = record.LiteralInt
	LiteralFloat    = record.LiteralFloat
	LiteralBool     = record.LiteralBool
	LiteralDuration = record.LiteralDuration
	LiteralStatus   = record.LiteralStatus // ok, error, unset
	LiteralKind     = record.LiteralKind   // server, client, producer, consumer, internal, unspecified
)

// Field is what a condition tests: an intrinsic, or an attribute by scope
// and name. It converts to record.Field (the same fields), which the trace
// store is sent.
type Field struct {
	Intrinsic Intrinsic // IntrinsicNone for an attribute
	Scope     Scope     // attributes only
	Name      string    // attribute name without its scope, e.g. "http.status_code"
}

// String prints the field as TraceQL: "duration", "span.http.method",
// ".foo", `resource."my attr"`.
func (f Field) String() string {
	if f.Intrinsic != IntrinsicNone {
		return f.Intrinsic.String()
	}
	prefix := "."
	if f.Scope != ScopeNone {
		prefix = f.Scope.String() + "."
	}
	return prefix + quoteAttributeName(f.Name, f.Scope)
}

// quoteAttributeName quotes a name that would not read back unquoted.
func quoteAttributeName(name string, scope Scope) string {
	needs := name == "" || strings.ContainsRune(name, '"') ||
		(scope == ScopeNone && isDigit(name[0])) // ".3x" would read as the number .3
	for _, r := range name {
		if !isAttributeRune(r) {
			needs = true
			break
		}
	}
	if !needs {
		return name
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// fieldType is the type an intrinsic always has, for parse-time checks like
// Tempo's; vNil for an attribute, whose type is known only per span.
func (f Field) fieldType() valKind {
	switch f.Intrinsic {
	case IntrinsicName, IntrinsicStatusMessage, IntrinsicRootName, IntrinsicRootServiceName:
		return vString
	case IntrinsicDuration, IntrinsicTraceDuration:
		return vDuration
	case IntrinsicStatus:
		return vStatus
	case IntrinsicKind:
		return vKind
	}
	return vNil
}

// flip returns the operator that gives the same result with its operands
// swapped: 5 < .a is .a > 5.
func flip(o Op) Op {
	switch o {
	case OpGreater:
		return OpLess
	case OpGreaterEqual:
		return OpLessEqual
	case OpLess:
		return OpGreater
	case OpLessEqual:
		return OpGreaterEqual
	}
	return o
}

// Literal is a constant in a query; only the field its Type names is
// meaningful. It converts to record.Literal (the same fields).
type Literal struct {
	Type     LiteralType
	Str      string // LiteralString; the keyword for LiteralStatus and LiteralKind
	Int      int64
	Float    float64
	Bool     bool
	Duration time.Duration
}

// String prints the literal as TraceQL.
func (l Literal) String() string {
	switch l.Type {
	case LiteralString:
		return strconv.Quote(l.Str)
	case LiteralInt:
		return strconv.FormatInt(l.Int, 10)
	case LiteralFloat:
		return formatFloat(l.Float)
	case LiteralBool:
		return strconv.FormatBool(l.Bool)
	case LiteralDuration:
		return formatDuration(l.Duration)
	case LiteralStatus, LiteralKind:
		return l.Str
	}
	return "nil"
}

func (l Literal) value() val {
	switch l.Type {
	case LiteralString:
		return val{kind: vString, s: l.Str}
	case LiteralInt:
		return val{kind: vInt, i: l.Int}
	case LiteralFloat:
		return val{kind: vFloat, f: l.Float}
	case LiteralBool:
		return val{kind: vBool, b: l.Bool}
	case LiteralDuration:
		return val{kind: vDuration, i: int64(l.Duration)}
	case LiteralStatus:
		return val{kind: vStatus, s: l.Str}
	case LiteralKind:
		return val{kind: vKind, s: l.Str}
	}
	return val{}
}

// Condition is one field-operator-literal comparison of a query.
type Condition struct {
	Field Field
	Op    Op
	Value Literal
}

// String prints the condition as TraceQL, e.g. `span.http.status_code >= 500`.
func (c Condition) String() string {
	return c.Field.String() + " " + c.Op.String() + " " + c.Value.String()
}

// The nodes of a parsed query. Spanset expressions select spans of a trace;
// conditions test one span.
type (
	spansetExpr interface {
		eval(tc *traceCtx) []bool
		write(sb *strings.Builder)
	}

	// spansetFilter is { cond }; cond is nil for {}.
	spansetFilter struct {
		cond condExpr
	}

	spansetOp struct {
		op       spansetOpKind
		lhs, rhs spansetExpr
	}

	condExpr interface {
		match(tc *traceCtx, s *Span) bool
		write(sb *strings.Builder)
	}

	// logicalCond is lhs && rhs or lhs || rhs inside one spanset filter.
	logicalCond struct {
		and      bool
		lhs, rhs condExpr
	}

	// compareCond is field op literal; re is the compiled pattern of =~ and !~.
	compareCond struct {
		c   Condition
		lit val
		re  *regexp.Regexp
	}

	// boolCond is a literal true or false standing alone: { true }.
	boolCond struct {
		v bool
	}

	// attrCond is an attribute standing alone, { .cache_hit }: true for a
	// span whose attribute is the boolean true, as in Tempo.
	attrCond struct {
		f Field
	}
)

type spansetOpKind uint8

const (
	opSpansetAnd         spansetOpKind = iota + 1 // {A} && {B}
	opSpansetOr                                   // {A} || {B}
	opSpansetChild                                // {A} > {B}
	opSpansetParent                               // {A} < {B}
	opSpansetDesc                                 // {A} >> {B}
	opSpansetAnce                                 // {A} << {B}
	opSpansetSibl                                 // {A} ~ {B}
	opSpansetUnionChild                           // {A} &> {B}
	opSpansetUnionParent                          // {A} &< {B}
	opSpansetUnionDesc                            // {A} &>> {B}
	opSpansetUnionAnce                            // {A} &<< {B}
	opSpansetUnionSibl                            // {A} &~ {B}
	opSpansetNotChild                             // {A} !> {B}
	opSpansetNotParent                            // {A} !< {B}
	opSpansetNotDesc                              // {A} !>> {B}
	opSpansetNotAnce                              // {A} !<< {B}
	opSpansetNotSibl                              // {A} !~ {B}
)

var spansetOpText = map[spansetOpKind]string{
	opSpansetAnd: "&&", opSpansetOr: "||", opSpansetChild: ">", opSpansetParent: "<",
	opSpansetDesc: ">>", opSpansetAnce: "<<", opSpansetSibl: "~", opSpansetUnionChild: "&>",
	opSpansetUnionParent: "&<", opSpansetUnionDesc: "&>>", opSpansetUnionAnce: "&<<",
	opSpansetUnionSibl: "&~", opSpansetNotChild: "!>", opSpansetNotParent: "!<", opSpansetNotDesc: "!>>",
	opSpansetNotAnce: "!<<", opSpansetNotSibl: "!~",
}

func (f *spansetFilter) write(sb *strings.Builder) {
	if f.cond == nil {
		sb.WriteString("{}")
		return
	}
	sb.WriteString("{ ")
	f.cond.write(sb)
	sb.WriteString(" }")
}

// write prints the operation with parentheses around every operand that is
// itself an operation, except a left operand with the same operator: that
// reads back the same (all these operators associate to the left) and keeps
// Tempo's unusual precedence (&& and || bind alike) explicit.
func (o *spansetOp) write(sb *strings.Builder) {
	writeSpansetOperand(sb, o.lhs, func(k spansetOpKind) bool { return k != o.op })
	sb.WriteString(" " + spansetOpText[o.op] + " ")
	writeSpansetOperand(sb, o.rhs, func(spansetOpKind) bool { return true })
}

func writeSpansetOperand(sb *strings.Builder, e spansetExpr, wrap func(spansetOpKind) bool) {
	if op, ok := e.(*spansetOp); ok && wrap(op.op) {
		sb.WriteByte('(')
		e.write(sb)
		sb.WriteByte(')')
		return
	}
	e.write(sb)
}

func (c *logicalCond) write(sb *strings.Builder) {
	writeCondOperand(sb, c.lhs, func(and bool) bool { return and != c.and })
	if c.and {
		sb.WriteString(" && ")
	} else {
		sb.WriteString(" || ")
	}
	writeCondOperand(sb, c.rhs, func(bool) bool { return true })
}

func writeCondOperand(sb *strings.Builder, c condExpr, wrap func(and bool) bool) {
	if l, ok := c.(*logicalCond); ok && wrap(l.and) {
		sb.WriteByte('(')
		c.write(sb)
		sb.WriteByte(')')
		return
	}
	c.write(sb)
}

func (c *compareCond) write(sb *strings.Builder) { sb.WriteString(c.c.String()) }

func (c *boolCond) write(sb *strings.Builder) { sb.WriteString(strconv.FormatBool(c.v)) }

func (c *attrCond) write(sb *strings.Builder) { sb.WriteString(c.f.String()) }
