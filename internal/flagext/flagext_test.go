package flagext

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "15d", want: 15 * 24 * time.Hour},
		{in: "1w", want: 7 * 24 * time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "0", want: 0},
		{in: "", err: true},
		{in: "15", err: true},  // no unit
		{in: "-1d", err: true}, // Prometheus durations are not negative
		{in: "1.5h", err: true},
		{in: "forever", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d := time.Minute
			fs := flag.NewFlagSet("", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			Duration(fs, &d, "retention", "")
			require.Equal(t, "1m", fs.Lookup("retention").DefValue, "the default is the value before")
			err := fs.Parse([]string{"-retention", tc.in})
			if tc.err {
				require.ErrorContains(t, err, `invalid duration "`+tc.in+`"`)
				require.Equal(t, time.Minute, d, "a refused value leaves the setting alone")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, d)
			require.Equal(t, tc.want, time.Duration(*fs.Lookup("retention").Value.(*duration)))
		})
	}
}

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		str  string // the flag's String() after Set
		err  bool
	}{
		{in: "16MiB", want: 16 << 20, str: "16MiB"},
		{in: "1KiB", want: 1024, str: "1KiB"},
		{in: "0", want: 0, str: "0B"},
		{in: "512B", want: 512, str: "512B"},
		{in: "1GiB512MiB", want: 3 << 29, str: "1GiB512MiB"},
		// As in Prometheus' --storage.tsdb.retention.size, KB, MB and GB
		// are powers of two; only an SI "kB" is 1000.
		{in: "50GB", want: 50 << 30, str: "50GiB"},
		{in: "2MB", want: 2 << 20, str: "2MiB"},
		{in: "1kB", want: 1000, str: "1000B"},
		{in: "", err: true},
		{in: "16", err: true}, // no unit
		{in: "16 MiB", err: true},
		{in: "lots", err: true},
		{in: "1XB", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var n64 int64 = 7
			n := 7
			fs := flag.NewFlagSet("", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			Bytes(fs, &n64, "size64", "")
			Bytes(fs, &n, "size", "")
			require.Equal(t, "7B", fs.Lookup("size").DefValue)
			err := fs.Parse([]string{"-size64", tc.in, "-size", tc.in})
			if tc.err {
				require.ErrorContains(t, err, `invalid size "`+tc.in+`"`)
				require.EqualValues(t, 7, n64, "a refused value leaves the setting alone")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, n64)
			require.EqualValues(t, tc.want, n, "the int flavour reads the same")
			require.Equal(t, tc.str, fs.Lookup("size64").Value.String())
		})
	}
}

func TestStrings(t *testing.T) {
	list := []string{"default.yml"}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	Strings(fs, &list, "file", "")
	require.Equal(t, "default.yml", fs.Lookup("file").DefValue)
	require.NoError(t, fs.Parse([]string{"-file", "a.yml", "-file", "b,c.yml", "-file", ""}))
	require.Equal(t, []string{"default.yml", "a.yml", "b,c.yml", ""}, list, "each use appends, commas and all")
}

// TestPrintDefaults checks the usage text, for which the flag package
// makes a zero value of each flag type to tell whether a default is worth
// printing.
func TestPrintDefaults(t *testing.T) {
	var (
		d        = 15 * 24 * time.Hour
		zeroD    time.Duration
		size     int64 = 16 << 20
		zeroSize int
		list     []string
	)
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	Duration(fs, &d, "retention", "How long.")
	Duration(fs, &zeroD, "zero-duration", "Unset.")
	Bytes(fs, &size, "max-size", "How large.")
	Bytes(fs, &zeroSize, "zero-size", "Unset.")
	Strings(fs, &list, "file", "Repeatable.")
	fs.PrintDefaults()
	require.Contains(t, out.String(), "How long. (default 15d)")
	require.Contains(t, out.String(), "How large. (default 16MiB)")
	for _, name := range []string{"zero-duration", "zero-size", "file"} {
		require.Contains(t, out.String(), "-"+name)
	}
	require.Equal(t, 2, strings.Count(out.String(), "(default"), "zero defaults are not printed:\n%s", out.String())
}

// settings is a flag set like Sightline's: every kind of flag, with
// defaults.
type settings struct {
	fs        *flag.FlagSet
	addr      string
	retention time.Duration
	size      int64
	files     []string
	workers   int
}

func newSettings() *settings {
	s := &settings{addr: ":9750", retention: time.Hour, size: 1 << 20}
	s.fs = flag.NewFlagSet("", flag.ContinueOnError)
	s.fs.SetOutput(io.Discard)
	s.fs.StringVar(&s.addr, "http.listen-address", s.addr, "")
	Duration(s.fs, &s.retention, "logs.retention", "")
	Bytes(s.fs, &s.size, "logs.max-record-size", "")
	Strings(s.fs, &s.files, "rules.file", "")
	s.fs.IntVar(&s.workers, "workers", s.workers, "")
	return s
}

func TestApplyYAML(t *testing.T) {
	s := newSettings()
	require.NoError(t, ApplyYAML(s.fs, []byte(`
# a comment
http.listen-address: ":1234"
logs.retention: 15d
logs.max-record-size: 256KiB
rules.file:
  - a.yml
  - b.yml
workers: 4
`), nil))
	require.Equal(t, ":1234", s.addr)
	require.Equal(t, 15*24*time.Hour, s.retention)
	require.EqualValues(t, 256<<10, s.size)
	require.Equal(t, []string{"a.yml", "b.yml"}, s.files, "a sequence sets a repeatable flag once a value")
	require.Equal(t, 4, s.workers)

	s = newSettings()
	require.NoError(t, ApplyYAML(s.fs, []byte("rules.file: [a.yml]\nlogs.retention: [2d]\n"), nil))
	require.Equal(t, []string{"a.yml"}, s.files, "flow sequences too")
	require.Equal(t, 2*24*time.Hour, s.retention, "a list of one value is that value")
	s = newSettings()
	require.NoError(t, ApplyYAML(s.fs, []byte("rules.file: c.yml\n"), nil))
	require.Equal(t, []string{"c.yml"}, s.files, "a single value for a repeatable flag")

	for _, empty := range []string{"", "\n\n", "# only a comment\n", "---\n", "---\n# all commented out\n", "~\n"} {
		s = newSettings()
		require.NoError(t, ApplyYAML(s.fs, []byte(empty), nil), "%q", empty)
		require.Equal(t, newSettings().addr, s.addr)
	}
}

func TestApplyYAMLSkip(t *testing.T) {
	s := newSettings()
	// As loadConfig does: the flags given on the command line are set
	// first, and skipped in the file.
	require.NoError(t, s.fs.Parse([]string{"-http.listen-address", ":5678", "-rules.file", "cli.yml"}))
	given := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	require.NoError(t, ApplyYAML(s.fs, []byte("http.listen-address: \":1234\"\nrules.file: [a.yml, b.yml]\nworkers: 2\n"), given))
	require.Equal(t, ":5678", s.addr, "the command line wins")
	require.Equal(t, []string{"cli.yml"}, s.files, "a repeatable flag given on the command line is replaced whole, not appended to")
	require.Equal(t, 2, s.workers, "settings not skipped are applied")

	// A skipped key is still checked: a misspelt one is not hidden by skip.
	err := ApplyYAML(s.fs, []byte("http.listen-adress: x\n"), map[string]bool{"http.listen-adress": true})
	require.ErrorContains(t, err, `unknown setting "http.listen-adress"`)
}

func TestApplyYAMLErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // in the error
	}{
		{name: "unknown key", yaml: "workers: 2\n\nlogs.retension: 1d\n", want: []string{"line 3", `unknown setting "logs.retension"`}},
		{name: "invalid value", yaml: "workers: 2\nlogs.retention: forever\n", want: []string{"line 2", "logs.retention", `invalid duration "forever"`}},
		{name: "invalid list item", yaml: "rules.file: [a.yml]\nlogs.max-record-size:\n  - 1KiB\n  - huge\n", want: []string{"line 4", "logs.max-record-size", `invalid size "huge"`}},
		{name: "nested mapping", yaml: "logs.retention:\n  value: 1d\n", want: []string{"line 2", "logs.retention", "want a value"}},
		{name: "nested list", yaml: "rules.file: [[a.yml]]\n", want: []string{"line 1", "rules.file", "want a value"}},
		{name: "mapping in a list", yaml: "rules.file:\n  - a.yml\n  - {b: c}\n", want: []string{"line 3", "rules.file", "want a value"}},
		{name: "top-level list", yaml: "- workers: 2\n", want: []string{"line 1", "want a mapping"}},
		{name: "top-level scalar", yaml: "\nworkers\n", want: []string{"line 2", "want a mapping"}},
		{name: "not YAML", yaml: "workers: [2\n", want: []string{"yaml"}},
		{name: "int flag", yaml: "workers: two\n", want: []string{"line 1", "workers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ApplyYAML(newSettings().fs, []byte(tc.yaml), nil)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

// FuzzApplyYAML checks that no file crashes ApplyYAML, and that a file it
// refuses is refused with a line number (or the YAML parser's own error).
func FuzzApplyYAML(f *testing.F) {
	for _, s := range []string{
		"", "workers: 2\n", "rules.file: [a, b]\n", "logs.retention: {a: 1}\n", "- x\n",
		"a: &x 1\nb: *x\n", "logs.retention: *x\n", "? [a, b]\n: c\n", "workers: !!binary AAE=\n",
		"rules.file: [[[]]]\n", "---\nworkers: 1\n---\nworkers: 2\n", "logs.max-record-size: -1KiB\n",
		"<<: {workers: 1}\n", "workers:\n", "\xff: 1\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st := newSettings()
		err := ApplyYAML(st.fs, []byte(s), map[string]bool{"workers": true})
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "line ") || strings.HasPrefix(err.Error(), "yaml: "), "%v", err)
		}
	})
}
