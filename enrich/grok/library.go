package grok

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sluicelab/sluice/configs"
)

// Library is a set of named patterns that expressions refer to with
// %{NAME}. Add, LoadFS and LoadDir must not run concurrently with each other
// or with Compile; Compile may run concurrently with itself. Compiled
// patterns do not refer back to the library.
type Library struct {
	defs map[string]definition
}

type definition struct {
	expr   string
	source string // "base.grok:12", "/etc/sluice/patterns/fw:3" or "Add"
}

// NewLibrary returns an empty library.
func NewLibrary() *Library {
	return &Library{defs: make(map[string]definition)}
}

// BaseLibrary returns a new library holding sluice's base patterns
// (configs/patterns/*.grok, embedded in the binary).
func BaseLibrary() (*Library, error) {
	l := NewLibrary()
	if err := l.LoadFS(configs.Patterns, "patterns/*.grok"); err != nil {
		return nil, fmt.Errorf("grok base library: %w", err)
	}
	return l, nil
}

// Add defines name, replacing an earlier definition. References in expr are
// resolved when an expression using name is compiled, so they may name
// patterns added later.
func (l *Library) Add(name, expr string) error {
	return l.add(name, expr, "Add")
}

func (l *Library) add(name, expr, source string) error {
	if !validName(name) {
		return fmt.Errorf("pattern name %q: use only letters, digits and _", name)
	}
	if expr == "" {
		return fmt.Errorf("pattern %s has no expression", name)
	}
	l.defs[name] = definition{expr: expr, source: source}
	return nil
}

// Lookup returns the expression name is defined as.
func (l *Library) Lookup(name string) (string, bool) {
	d, ok := l.defs[name]
	return d.expr, ok
}

// Names returns the defined names, sorted.
func (l *Library) Names() []string {
	names := make([]string, 0, len(l.defs))
	for n := range l.defs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LoadFS adds the patterns of every file in fsys matching glob (fs.Glob
// syntax), in lexical order of the file names.
func (l *Library) LoadFS(fsys fs.FS, glob string) error {
	files, err := fs.Glob(fsys, glob)
	if err != nil {
		return fmt.Errorf("pattern files %q: %w", glob, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("pattern files %q: no file matches", glob)
	}
	for _, name := range files {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		if err := l.parseFile(name, data); err != nil {
			return err
		}
	}
	return nil
}

// LoadDir adds the patterns of every regular file in dir, in lexical order,
// like Logstash's patterns_dir (whose patterns_files_glob is "*"). Hidden
// files and editor backups (names starting with "." or ending in "~") are
// skipped. Load it after the base library to override base patterns.
func (l *Library) LoadDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("pattern directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, name)
		if !e.Type().IsRegular() {
			fi, err := os.Stat(path) // follow symlinks
			if err != nil {
				return fmt.Errorf("pattern file: %w", err)
			}
			if !fi.Mode().IsRegular() {
				continue
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("pattern file: %w", err)
		}
		if err := l.parseFile(path, data); err != nil {
			return err
		}
	}
	return nil
}

// parseFile reads Logstash pattern-file syntax: "NAME expression" per line,
// blank lines and lines whose first non-blank character is # ignored. The
// expression is the rest of the line after the white space that follows the
// name, kept as written (trailing spaces are part of it, as in Logstash).
func (l *Library) parseFile(file string, data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		name, expr, _ := strings.Cut(trimmed, " ")
		if i := strings.IndexByte(name, '\t'); i >= 0 {
			name, expr = trimmed[:i], trimmed[i+1:]
		}
		expr = strings.TrimLeft(expr, " \t")
		if err := l.add(name, expr, fmt.Sprintf("%s:%d", file, n)); err != nil {
			return fmt.Errorf("%s:%d: %w", file, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// Check compiles every pattern of the library on its own and returns the
// problems found (unknown references, cycles, regexp syntax), one per
// pattern, joined.
func (l *Library) Check() error {
	var errs []error
	for _, name := range l.Names() {
		if _, err := l.Compile("%{" + name + "}"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
