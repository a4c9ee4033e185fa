package alerting

import (
	"fmt"
	"io"

	"github.com/prometheus/common/model"
)

// CheckRuleFiles checks rule files as Sightline loads them, without
// running them: PromQL and MetricsQL groups with promtool's checks and
// messages, `type: logql` groups with the LogQL parser. For each file it
// writes promtool check rules' report to w ("Checking <file>", then
// "  SUCCESS: <n> rules found" or "  FAILED:" and the errors), and it
// reports whether every file passed. promtool itself checks PromQL files
// but refuses `type: logql`, which is Sightline's (and vmalert's).
func CheckRuleFiles(w io.Writer, files ...string) bool {
	ok := true
	l := &loader{allowLogQL: true}
	for _, file := range files {
		fmt.Fprintln(w, "Checking", file)
		rgs, errs := l.Load(file, false, model.UTF8Validation)
		if len(errs) > 0 {
			ok = false
			fmt.Fprintln(w, "  FAILED:")
			for _, err := range errs {
				fmt.Fprintln(w, err)
			}
			fmt.Fprintln(w)
			continue
		}
		n := 0
		for _, g := range rgs.Groups {
			n += len(g.Rules)
		}
		fmt.Fprintf(w, "  SUCCESS: %d rules found\n\n", n)
	}
	return ok
}
