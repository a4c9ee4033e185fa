package colblock

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/require"
)

// mappingHeader matches the first line of a mapping in smaps.
var mappingHeader = regexp.MustCompile(`^[0-9a-f]+-[0-9a-f]+ `)

// mappedUnder returns how many bytes of files under dir this process has
// mapped, and how many of them are resident, from /proc/self/smaps.
func mappedUnder(t *testing.T, dir string) (size, rss int64) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	prefix := dir + string(filepath.Separator)
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if mappingHeader.MatchString(line) { // the next mapping
			i := strings.Index(line, " /")
			in = i >= 0 && strings.HasPrefix(line[i+1:], prefix)
			continue
		}
		if !in {
			continue
		}
		for name, sum := range map[string]*int64{"Size:": &size, "Rss:": &rss} {
			if rest, ok := strings.CutPrefix(line, name); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				require.NoError(t, err)
				*sum += kb << 10
			}
		}
	}
	require.NoError(t, sc.Err())
	return size, rss
}

// A head compaction reads the head's chunks through the mappings of
// chunks_head; once the block is written none of those pages stays
// resident, and the head's chunks still read back as they were written.
func TestHeadCompactionReleasesChunkPages(t *testing.T) {
	dir := t.TempDir()
	col := openDB(t, dir, true)
	ref := openDB(t, t.TempDir(), false)
	defer ref.Close()
	for _, db := range []*tsdb.DB{col, ref} {
		db.DisableCompactions() // the test compacts
		appendTestData(t, db, day0, 5)
		db.ForceHeadMMap() // as the store does every 15 minutes of data
	}
	// Reopened, the head reads its chunks from the files: the chunks are
	// no longer in the writer's queue but in the mappings.
	require.NoError(t, col.Close())
	col = openDB(t, dir, true)
	defer col.Close()
	col.DisableCompactions()
	chunksHead := filepath.Join(dir, "chunks_head")
	_, rss := mappedUnder(t, chunksHead)
	require.Positive(t, rss, "no page of the head's chunks is resident: nothing to test")

	for _, db := range []*tsdb.DB{col, ref} {
		require.NoError(t, db.Compact(context.Background()))
	}
	require.NotEmpty(t, col.Blocks(), "the head was not compacted")
	size, rss := mappedUnder(t, chunksHead)
	require.Positive(t, size, "the head's chunk files were all deleted: nothing to test")
	require.Zero(t, rss, "pages of the head's chunks are resident after its compaction")

	all := labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+")
	require.Equal(t, query(t, ref, day0, day0+5*hour, all), query(t, col, day0, day0+5*hour, all))
}
