package segment

import (
	"container/list"
	"os"
	"sync"
)

// MaxOpenDataFiles bounds the segment data files held open at once, by
// every Set of the process: a segment's indexes are mmapped and need no
// descriptor, and its data file is opened when a read needs it and kept
// among the most recently used. Open descriptors thus stay bounded
// however many segments months of data make.
var MaxOpenDataFiles = 512

// dataFiles is the process' cache of open data files.
var dataFiles = &fileCache{files: map[string]*cachedFile{}}

type fileCache struct {
	mu    sync.Mutex
	files map[string]*cachedFile
	lru   list.List // of *cachedFile, most recently used first
}

type cachedFile struct {
	f    *os.File
	path string
	refs int           // reads in progress
	elem *list.Element // in lru
}

// get returns path opened for reading; the caller must put it back.
func (c *fileCache) get(path string) (*cachedFile, error) {
	c.mu.Lock()
	if cf := c.files[path]; cf != nil {
		cf.refs++
		c.lru.MoveToFront(cf.elem)
		c.mu.Unlock()
		return cf, nil
	}
	c.mu.Unlock()
	f, err := os.Open(path) // no lock held across the open
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf := c.files[path]; cf != nil { // opened meanwhile
		_ = f.Close()
		cf.refs++
		c.lru.MoveToFront(cf.elem)
		return cf, nil
	}
	cf := &cachedFile{f: f, path: path, refs: 1}
	cf.elem = c.lru.PushFront(cf)
	c.files[path] = cf
	// Close the least recently used files no read holds; files in use
	// stay open, so the bound can be passed while that many reads run.
	for e := c.lru.Back(); e != nil && len(c.files) > MaxOpenDataFiles; {
		prev := e.Prev()
		if old := e.Value.(*cachedFile); old.refs == 0 {
			c.drop(old)
		}
		e = prev
	}
	return cf, nil
}

func (c *fileCache) put(cf *cachedFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cf.refs--
}

// forget closes path's file, if it is open; no read may hold it.
func (c *fileCache) forget(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf := c.files[path]; cf != nil {
		c.drop(cf)
	}
}

func (c *fileCache) drop(cf *cachedFile) {
	_ = cf.f.Close()
	c.lru.Remove(cf.elem)
	delete(c.files, cf.path)
}

// open reports the files held open, for tests and self-metrics.
func (c *fileCache) open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.files)
}
