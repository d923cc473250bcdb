package client_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/faultline/faultline/client"
)

func TestIdentify(t *testing.T) {
	for _, tc := range []struct {
		name, src  string
		kind, want string
	}{
		{"block metadata, the common form", "apiVersion: faultline.dev/v1alpha1\nkind: Experiment\nmetadata:\n  name: httpbin-abort\n  description: x\nspec: {}\n", "Experiment", "httpbin-abort"},
		{"flow metadata with a comma inside quotes", "kind: Experiment\nmetadata: {name: x, description: \"a, b: c\"}\n", "Experiment", "x"},
		{"JSON-like flow keys", "kind: GameDay\nmetadata: {\"name\":\"day\"}\n", "GameDay", "day"},
		{"double-quoted name with an escape", "kind: Environment\nmetadata:\n  name: \"st\\u0061ging\"\n", "Environment", "staging"},
		{"single-quoted name", "kind: Experiment\nmetadata:\n  name: 'it''s'\n", "Experiment", "it's"},
		{"a comment after the name", "kind: Experiment\nmetadata:\n  name: x # the name\n", "Experiment", "x"},
		{"a hash inside a plain name is not a comment", "kind: Experiment\nmetadata:\n  name: a#b\n", "Experiment", "a#b"},
		{"kind after metadata", "metadata:\n  name: late\nkind: Experiment\n", "Experiment", "late"},
		{"an Istio document first: the Experiment's name, not the VirtualService's", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: httpbin}\n---\nkind: Experiment\nmetadata: {name: exp}\n", "Experiment", "exp"},
		{"comments, markers and a directive", "%YAML 1.2\n# header\n---\n# about\nkind: Experiment # kind\nmetadata: # meta\n  # the name:\n  name: x\n...\n", "Experiment", "x"},
		{"CRLF line ends and a byte-order mark", "\ufeffkind: Experiment\r\nmetadata:\r\n  name: crlf\r\n", "Experiment", "crlf"},
		{"a block scalar holding key-like lines", "kind: Experiment\nmetadata:\n  description: |\n    name: wrong\n    kind: GameDay\n  name: right\n", "Experiment", "right"},
		{"a multi-line quoted value at the top level", "description: \"one\nkind: GameDay\nmetadata: {name: wrong}\"\nkind: Experiment\nmetadata: {name: right}\n", "Experiment", "right"},
		{"a flow metadata over several lines", "kind: Experiment\nmetadata: {\n  name: x, # the name\n  description: y\n}\n", "Experiment", "x"},
		{"labels before the name", "kind: Environment\nmetadata:\n  labels:\n    name: wrong\n  name: right\n", "Environment", "right"},
		{"a document indented as a whole", "  kind: Experiment\n  metadata:\n    name: x\n", "Experiment", "x"},
		{"nested resources of spec.traffic are not the document", "kind: Experiment\nmetadata:\n  name: outer\nspec:\n  traffic:\n  - kind: GameDay\n    metadata: {name: inner}\n", "Experiment", "outer"},
		{"a JSON document", `{"apiVersion": "faultline.dev/v1alpha1", "kind": "Experiment", "metadata": {"name": "j"}, "spec": {}}`, "Experiment", "j"},
		{"pretty JSON", "{\n  \"kind\": \"GameDay\",\n  \"metadata\": {\n    \"name\": \"pj\"\n  }\n}\n", "GameDay", "pj"},
		{"a JSON envelope carries the YAML", `{"source": "kind: Environment\nmetadata: {name: env}\n"}`, "Environment", "env"},
		{"a flow document", "{kind: Experiment, metadata: {name: fx}}\n", "Experiment", "fx"},
		{"a flow document on the --- line", "# c\n--- {kind: GameDay, metadata: {name: m}}\n", "GameDay", "m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, name, err := client.Identify([]byte(tc.src))
			if err != nil {
				t.Fatalf("Identify: %v", err)
			}
			if kind != tc.kind || name != tc.want {
				t.Errorf("got %s %q, want %s %q", kind, name, tc.kind, tc.want)
			}
			checkAgainstYAML(t, []byte(tc.src))
		})
	}
}

// TestIdentifyRefusesWhatItCannotRead checks that every form the reader
// cannot follow for certain is an error, never a guess.
func TestIdentifyRefusesWhatItCannotRead(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"an anchor on metadata", "kind: Experiment\nmetadata: &m\n  name: x\n"},
		{"an alias for metadata", "kind: Experiment\nmetadata: *m\n"},
		{"a merge key", "kind: Experiment\nmetadata:\n  <<: *base\n"},
		{"a tag on the name", "kind: Experiment\nmetadata:\n  name: !!str x\n"},
		{"a block scalar name", "kind: Experiment\nmetadata:\n  name: |\n    x\n"},
		{"a plain name over two lines", "kind: Experiment\nmetadata:\n  name: x\n    y\n"},
		{"a quoted name over two lines", "kind: Experiment\nmetadata:\n  name: \"x\n    y\"\n"},
		{"the name given twice", "kind: Experiment\nmetadata:\n  name: x\n  name: y\n"},
		{"kind given twice", "kind: Experiment\nkind: GameDay\nmetadata: {name: x}\n"},
		{"an empty name", "kind: Experiment\nmetadata:\n  name:\n"},
		{"no metadata", "kind: Experiment\nspec: {}\n"},
		{"metadata as a sequence", "kind: Experiment\nmetadata:\n- name: x\n"},
		{"a sequence document", "- kind: Experiment\n  metadata: {name: x}\n"},
		{"a tag on the --- line", "--- !!map\nkind: Experiment\nmetadata: {name: x}\n"},
		{"content on the --- line before another document", "--- !!map\nkind: Experiment\nmetadata: {name: x}\n---\nkind: Experiment\nmetadata: {name: y}\n"},
		{"only Istio documents", "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\n"},
		{"an empty stream", "# nothing\n"},
		{"a flow mapping that does not end", "kind: Experiment\nmetadata: {name: x\n"},
		{"a complex key", "? kind\n: Experiment\nmetadata: {name: x}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if kind, name, err := client.Identify([]byte(tc.src)); err == nil {
				t.Errorf("got %s %q, want an error", kind, name)
			}
		})
	}
}

// TestIdentifyReadsEveryShippedDocument: the reader is not so wary that
// it refuses the repository's own experiments, game days and
// environments.
func TestIdentifyReadsEveryShippedDocument(t *testing.T) {
	files := shippedDocuments(t)
	if len(files) < 10 {
		t.Fatalf("found %d shipped documents", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		kind, name, err := client.Identify(src)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if want, wantName, ok := yamlIdentify(src); !ok || kind != want || name != wantName {
			t.Errorf("%s: got %s %q, yaml.v3 reads %s %q", f, kind, name, want, wantName)
		}
	}
}

// FuzzIdentify checks that whatever Identify reads, a YAML parser reads
// the same: it may refuse a document, but never names another.
func FuzzIdentify(f *testing.F) {
	for _, file := range shippedDocuments(f) {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("kind: Experiment\nmetadata: {name: x, description: \"a, b\"}\n"))
	f.Add([]byte("description: \"one\nkind: GameDay\"\nkind: Experiment\nmetadata:\n  name: 'a''b' # c\n"))
	f.Add([]byte("kind: Experiment\nmetadata:\n  description: >-\n    name: no\n  name: \"\\x41\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		checkAgainstYAML(t, src)
	})
}

// TestIdentifyAgreesWithYAMLOnAssembledDocuments assembles documents
// from lines that trip naive readers (block scalars, multi-line quotes and
// flows, anchors, nested names, markers) and checks each against yaml.v3.
func TestIdentifyAgreesWithYAMLOnAssembledDocuments(t *testing.T) {
	pool := []string{
		"kind: Experiment", "kind: GameDay", "kind: VirtualService", `kind: "Environment"`, "  kind: GameDay",
		"metadata:", "metadata: {name: a}", `metadata: {name: 'b', x: "c, d"}`, "metadata: {", "  name: c,", "}",
		"  name: d", "  name: 'e'", `  name: "f" # c`, "    g", "  description: |", "    name: h", "  labels:",
		"    name: i", "---", "# comment", "", `description: "j`, `k"`, "spec:", "- name: l", "  - kind: Experiment",
		"  - metadata: {name: m}", "name: n", `  "name": o`, "metadata: &a", "  <<: *a", "metadata: !!map",
		"  name: !!str p", "...", "spec: [q,", "  'r]'", "]", "  # name: s", "\tname: t", "  name: u\r",
		"metadata: {name: v} # w", "metadata: {name: x}y", "  name: >", "description: 'it''s", "  name: z'",
		"metadata: {name: \"a}b\"}", "    name: deep", "metadata: {name: ok, labels: {name: no}}",
		"--- {kind: Experiment, metadata: {name: mk}}", "--- # next", "metadata:  # c", "  name:   spaced  ",
		"kind: Experiment # c", "%YAML 1.2", "  - |", "{kind: GameDay, metadata: {name: fl}}",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	named, read := 0, 0 // documents yaml.v3 finds a name in, and those Identify reads too
	for i := 0; i < 20000; i++ {
		lines := make([]string, 1+rng.IntN(9))
		for j := range lines {
			lines[j] = strings.NewReplacer(`\t`, "\t", `\r`, "\r").Replace(pool[rng.IntN(len(pool))])
		}
		src := []byte(strings.Join(lines, "\n") + "\n")
		checkAgainstYAML(t, src)
		if t.Failed() {
			return
		}
		if _, name, ok := yamlIdentify(src); ok && name != "" {
			named++
			if _, _, err := client.Identify(src); err == nil {
				read++
			}
		}
	}
	// The rest carry an anchor, a tag or a duplicate key, which Identify
	// refuses on purpose.
	t.Logf("of %d documents yaml.v3 finds a name in, Identify reads %d", named, read)
	if named < 50 || read < named/3 {
		t.Errorf("of %d documents yaml.v3 finds a name in, Identify reads %d", named, read)
	}
}

// checkAgainstYAML fails when Identify names a document that yaml.v3
// reads otherwise.
func checkAgainstYAML(t *testing.T, src []byte) {
	t.Helper()
	kind, name, err := client.Identify(src)
	if err != nil {
		return
	}
	wantKind, wantName, ok := yamlIdentify(src)
	if !ok {
		return // not YAML: the server refuses it whatever its name
	}
	if kind != wantKind || name != wantName {
		t.Errorf("Identify reads %s %q, yaml.v3 %s %q, in:\n%s", kind, name, wantKind, wantName, src)
	}
}

// yamlIdentify reads the first stored kind's name with yaml.v3, as the
// server does (scenarios.headOf); ok is false when the stream is not
// valid YAML, which the server refuses whole.
func yamlIdentify(src []byte) (kind, name string, ok bool) {
	if json.Valid(src) {
		var envelope struct {
			Source     *string `json:"source"`
			APIVersion string  `json:"apiVersion"`
		}
		if json.Unmarshal(src, &envelope) == nil && envelope.Source != nil && envelope.APIVersion == "" {
			return yamlIdentify([]byte(*envelope.Source))
		}
	}
	found := false
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			return kind, name, true
		} else if err != nil {
			return "", "", false
		}
		if found || len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
			continue
		}
		k, nm := headOf(n.Content[0])
		switch k {
		case client.KindExperiment, client.KindGameDay, client.KindEnvironment:
			kind, name, found = k, nm, true
		}
	}
}

// headOf is scenarios.headOf: kind and metadata.name of a resource node,
// the last of a key given twice.
func headOf(doc *yaml.Node) (kind, name string) {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		switch doc.Content[i].Value {
		case "kind":
			kind = doc.Content[i+1].Value
		case "metadata":
			md := doc.Content[i+1]
			for j := 0; j+1 < len(md.Content); j += 2 {
				if md.Content[j].Value == "name" {
					name = md.Content[j+1].Value
				}
			}
		}
	}
	return kind, name
}

// shippedDocuments lists the repository's experiment, game-day and
// environment files.
func shippedDocuments(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"../scenarios", "../examples"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".yaml") && !strings.Contains(path, "docker-compose") && !strings.Contains(path, "testdata") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}
