package store

import (
	"errors"
	"testing"

	"github.com/faultline/faultline/server/errkind"
)

func TestTheSentinelsAreTheNeutralKinds(t *testing.T) {
	for _, c := range []struct {
		err, kind error
		text      string
	}{
		{ErrNotFound, errkind.NotFound, "store: not found"},
		{ErrConflict, errkind.Conflict, "store: conflict"},
		{ErrInvalid, errkind.Invalid, "store: invalid argument"},
	} {
		if !errors.Is(c.err, c.kind) || c.err.Error() != c.text {
			t.Errorf("%q: is %v %v; want %q", c.err, c.kind, errors.Is(c.err, c.kind), c.text)
		}
		// A store error is its sentinel and its kind, not another kind.
		wrapped := translate("op", c.err)
		for _, other := range []error{errkind.NotFound, errkind.Conflict, errkind.Invalid} {
			if errors.Is(wrapped, other) != (other == c.kind) {
				t.Errorf("%q: errors.Is(%v) = %v", wrapped, other, errors.Is(wrapped, other))
			}
		}
		if !errors.Is(wrapped, c.err) {
			t.Errorf("%q is not %v", wrapped, c.err)
		}
	}
}
