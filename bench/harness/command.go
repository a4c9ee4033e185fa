package harness

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"
)

// Command runs the body of a benchmark command: in work, or in a temporary
// directory removed afterwards when work is ""; with a context that Ctrl-C
// cancels; with a logger that writes timestamped lines to stderr. The files
// body returns (its reports) are printed, one per line.
func Command(name, work string, body func(ctx context.Context, work string, logf func(string, ...any)) ([]string, error)) error {
	if work == "" {
		dir, err := os.MkdirTemp("", name)
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+f+"\n", a...) }
	files, err := body(ctx, work, logf)
	if err != nil {
		return err
	}
	fmt.Println(strings.Join(files, "\n"))
	return nil
}
