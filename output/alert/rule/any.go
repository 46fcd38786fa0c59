package rule

import (
	"errors"
	"time"
)

func init() { Constructors["any"] = newAnyType }

// anyType is ElastAlert's "any": every document that passes the filter is
// a match. It keeps no state.
type anyType struct{}

func newAnyType(*Spec) (Type, error) { return anyType{}, nil }

func (anyType) Add(ev *Event) []Match {
	return []Match{{Time: ev.Time, Key: ev.Key, Doc: ev.Doc.AppendJSON(nil)}}
}

func (anyType) Tick(time.Time) []Match           { return nil }
func (anyType) MarshalState() ([]byte, error)    { return []byte("{}"), nil }
func (anyType) UnmarshalState(data []byte) error { return checkEmptyState(data) }
func (anyType) Evictions() uint64                { return 0 }

// checkEmptyState accepts the state of a type that keeps none.
func checkEmptyState(data []byte) error {
	if string(data) != "{}" && len(data) != 0 {
		return errors.New("state of a stateless rule type is not {}")
	}
	return nil
}
