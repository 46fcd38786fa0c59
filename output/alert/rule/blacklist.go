package rule

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelab/sluice/internal/query"
)

func init() {
	Constructors["blacklist"] = func(s *Spec) (Type, error) { return newListType(s, true) }
	Constructors["whitelist"] = func(s *Spec) (Type, error) { return newListType(s, false) }
}

// listType is ElastAlert's blacklist and whitelist: a blacklist matches a
// document whose compare_key value is in the list, a whitelist one whose
// value is not (with ignore_null, a document without the field does not
// match; without it, it does). A field with several values matches when
// any of them would. Values compare as text ("1" in the list matches the
// number 1), and numerically when both sides are numbers ("1.0" matches 1).
// It keeps no state.
type listType struct {
	field      string
	black      bool
	ignoreNull bool
	text       map[string]struct{}
	nums       map[float64]struct{}
	buf        []query.Value
}

func newListType(s *Spec, black bool) (Type, error) {
	if len(s.CompareKey) != 1 || s.CompareKey[0] == "" {
		return nil, errors.New("compare_key must name one field")
	}
	entries := s.Whitelist
	if black {
		entries = s.Blacklist
	}
	t := &listType{field: s.CompareKey[0], black: black, ignoreNull: s.IgnoreNull,
		text: make(map[string]struct{}, len(entries)), nums: map[float64]struct{}{}}
	for _, e := range entries {
		t.text[e] = struct{}{}
		if f, err := strconv.ParseFloat(strings.TrimSpace(e), 64); err == nil {
			t.nums[f] = struct{}{}
		}
	}
	return t, nil
}

func (t *listType) listed(v query.Value) bool {
	if v.Kind == query.KindNumber {
		if _, ok := t.nums[v.Num]; ok {
			return true
		}
	}
	_, ok := t.text[valueText(v)]
	return ok
}

func (t *listType) Add(ev *Event) []Match {
	t.buf = ev.Doc.Values(t.field, t.buf[:0])
	hit := false
	if len(t.buf) == 0 {
		hit = !t.black && !t.ignoreNull
	}
	for _, v := range t.buf {
		if t.listed(v) == t.black {
			hit = true
			break
		}
	}
	clear(t.buf) // keep no document data past the call
	if !hit {
		return nil
	}
	return []Match{{Time: ev.Time, Key: ev.Key, Doc: ev.Doc.AppendJSON(nil)}}
}

func (t *listType) Tick(time.Time) []Match           { return nil }
func (t *listType) MarshalState() ([]byte, error)    { return []byte("{}"), nil }
func (t *listType) UnmarshalState(data []byte) error { return checkEmptyState(data) }
func (t *listType) Evictions() uint64                { return 0 }
