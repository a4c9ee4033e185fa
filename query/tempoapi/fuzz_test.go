package tempoapi

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/record"
)

func TestParseTraceID(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		id, err := parseTraceID(in)
		require.NoError(t, err)
		require.Equal(t, want, hex.EncodeToString(id[:]))
	}
	f("5B8EFFF798038103D269B633813FC60C", "5b8efff798038103d269b633813fc60c")
	f("abc", "00000000000000000000000000000abc")
	f("0", "00000000000000000000000000000000")
	f("d269b633813fc60c", "0000000000000000d269b633813fc60c")
}

func FuzzParseTraceID(f *testing.F) {
	for _, s := range []string{"", "0", "abc", "5B8EFFF798038103D269B633813FC60C", strings.Repeat("f", 33), "xyz", "é1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseTraceID(s)
		if err != nil {
			return
		}
		// An accepted ID is at most 32 hex digits, and reads back as itself
		// left-padded.
		require.LessOrEqual(t, len(s), 32)
		require.Equal(t, strings.Repeat("0", 32-len(s))+strings.ToLower(s), hex.EncodeToString(id[:]))
	})
}

// FuzzTagsQuery checks that any tags parameter is either refused with an
// error or translated into TraceQL that parses.
func FuzzTagsQuery(f *testing.F) {
	for _, s := range []string{
		`service.name="api" name="GET /users"`,
		`http.status_code=500 status.code=error foo=bar`,
		"a=\"x\\ty\"\nb=c",
		`a="\u00e9" b`, `=x`, `a="b`, `a=b=c`, `k="\"\\"`,
		`"a"=b`, "a=\xff", "\xff=a", `.3x=1`, `span.x=1`, `a.b."c"=d`,
	} {
		f.Add(s, int64(0), int64(0))
	}
	f.Add("", int64(time.Millisecond), int64(time.Second))
	f.Fuzz(func(t *testing.T, s string, minDur, maxDur int64) {
		tags, err := parseTags(s)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "invalid tags: "), err.Error())
			return
		}
		q, err := tagsQuery(tags, time.Duration(minDur), time.Duration(maxDur))
		if err != nil {
			return
		}
		_, err = traceql.Parse(q)
		require.NoError(t, err, "tags %q became %q", s, q)
	})
}

// FuzzSetValue checks that no stored value text crashes the conversion to
// OTLP, whatever its type.
func FuzzSetValue(f *testing.F) {
	for _, s := range []string{"", "1", "1.5", "true", "AAE=", `[1,"a",[{}]]`, `{"a":{"b":null}}`, `[`, `{"a"`, strings.Repeat("[", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for typ := record.TypeEmpty; typ <= record.TypeMap; typ++ {
			setValue(pcommon.NewValueEmpty(), typ, s)
		}
	})
}
