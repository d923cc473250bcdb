package scenarios

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
)

//go:embed *.yaml
var examplesFS embed.FS

//go:embed gamedays/stored/*.yaml
var gameDayExamplesFS embed.FS

// Example is a shipped example experiment.
type Example struct {
	// File is the file name under scenarios/.
	File        string
	Name        string
	Description string
	Source      []byte
}

// Examples returns the shipped example experiments, parsed, sorted by file.
func Examples() ([]Example, error) {
	entries, err := fs.ReadDir(examplesFS, ".")
	if err != nil {
		return nil, fmt.Errorf("scenarios: examples: %w", err)
	}
	var out []Example
	for _, e := range entries {
		src, err := examplesFS.ReadFile(e.Name())
		if err != nil {
			return nil, fmt.Errorf("scenarios: example %s: %w", e.Name(), err)
		}
		doc, err := Parse(src)
		if err != nil {
			return nil, fmt.Errorf("scenarios: example %s: %w", e.Name(), err)
		}
		out = append(out, Example{File: e.Name(), Name: doc.Name(), Description: doc.Experiment.Metadata.Description, Source: src})
	}
	slices.SortFunc(out, func(a, b Example) int {
		switch {
		case a.File < b.File:
			return -1
		case a.File > b.File:
			return 1
		}
		return 0
	})
	return out, nil
}

// GameDayExample is a shipped example game day, naming the example
// experiments by their names as a stored game day does.
type GameDayExample struct {
	// File is the file name under scenarios/gamedays/stored/.
	File        string
	Name        string
	Description string
	Source      []byte
}

// GameDayExamples returns the shipped example game days, parsed, sorted by
// file.
func GameDayExamples() ([]GameDayExample, error) {
	const dir = "gamedays/stored"
	entries, err := fs.ReadDir(gameDayExamplesFS, dir)
	if err != nil {
		return nil, fmt.Errorf("scenarios: game-day examples: %w", err)
	}
	out := make([]GameDayExample, 0, len(entries))
	for _, e := range entries { // ReadDir sorts by name
		src, err := gameDayExamplesFS.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("scenarios: game-day example %s: %w", e.Name(), err)
		}
		gd, err := ParseGameDay(src)
		if err != nil {
			return nil, fmt.Errorf("scenarios: game-day example %s: %w", e.Name(), err)
		}
		out = append(out, GameDayExample{File: e.Name(), Name: gd.Metadata.Name, Description: gd.Metadata.Description, Source: src})
	}
	return out, nil
}
