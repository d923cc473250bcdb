package scenarios_test

import (
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	networking "istio.io/api/networking/v1alpha3"

	"github.com/faultline/faultline/scenarios"
)

// TestModelKnowsEveryIstioField walks the proto descriptors of istio.io/api's
// networking messages beside the model's Go types, and fails on a field the
// model lacks by its JSON name. v1beta1 and v1 declare their messages as
// aliases of v1alpha3's, so v1alpha3's descriptors are all of them. A field
// the model types as scenarios.Unimplemented is known
// and not walked further (a field Faultline accepts without acting on it
// is modelled, so that it is validated, and warned about).
func TestModelKnowsEveryIstioField(t *testing.T) {
	roots := []struct {
		msg   proto.Message
		model reflect.Type
	}{
		{&networking.VirtualService{}, reflect.TypeFor[scenarios.VirtualServiceSpec]()},
		{&networking.DestinationRule{}, reflect.TypeFor[scenarios.DestinationRuleSpec]()},
		{&networking.Gateway{}, reflect.TypeFor[scenarios.GatewaySpec]()},
		{&networking.ServiceEntry{}, reflect.TypeFor[scenarios.ServiceEntrySpec]()},
	}
	for _, r := range roots {
		d := r.msg.ProtoReflect().Descriptor()
		w := fieldWalker{t: t, seen: map[string]bool{}}
		w.walk(d, r.model, string(d.Name()))
		if len(w.seen) < 2 {
			t.Errorf("%s: walked %d messages; the walk does not descend", d.Name(), len(w.seen))
		}
	}
}

type fieldWalker struct {
	t    *testing.T
	seen map[string]bool
}

var unimplementedT = reflect.TypeFor[scenarios.Unimplemented]()

// walk checks that model has a field for every field of md, recursing into
// message fields; path names the field for the failure.
func (w *fieldWalker) walk(md protoreflect.MessageDescriptor, model reflect.Type, path string) {
	key := string(md.FullName()) + "|" + model.String()
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		sf, ok := jsonField(model, fd.JSONName())
		if !ok {
			w.t.Errorf("%s.%s (%s): the model (%s) has no field for it", path, fd.JSONName(), fd.FullName(), model)
			continue
		}
		ft := elem(sf.Type)
		if ft == unimplementedT {
			continue
		}
		var sub protoreflect.MessageDescriptor
		switch {
		case fd.IsMap():
			if v := fd.MapValue(); v.Kind() == protoreflect.MessageKind {
				sub = v.Message()
			}
		case fd.Kind() == protoreflect.MessageKind:
			sub = fd.Message()
		}
		if sub == nil || strings.HasPrefix(string(sub.FullName()), "google.protobuf.") {
			continue
		}
		if ft.Kind() != reflect.Struct {
			w.t.Errorf("%s.%s: the model's %s is not a struct for message %s", path, fd.JSONName(), sf.Type, sub.FullName())
			continue
		}
		w.walk(sub, ft, path+"."+fd.JSONName())
	}
}

// elem is t without pointers, slices and maps.
func elem(t reflect.Type) reflect.Type {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map:
			t = t.Elem()
		default:
			return t
		}
	}
}

// jsonField finds model's field whose JSON name is name (embedded structs
// included).
func jsonField(model reflect.Type, name string) (reflect.StructField, bool) {
	for i := range model.NumField() {
		f := model.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && tag == "" {
			if sf, ok := jsonField(elem(f.Type), name); ok {
				return sf, true
			}
			continue
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
