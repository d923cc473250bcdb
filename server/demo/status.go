package demo

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// statusChoice is one candidate status of /status/{codes} with its weight.
type statusChoice struct {
	code   int
	weight float64
}

// parseStatusCodes parses the {codes} of /status/{codes} the way httpbin
// does: "503", "200,503" (equal weights) or "200:0.9,503:0.1" (weights,
// relative to their sum; an item without ":w" weighs 1). Codes must be
// 200-599: 1xx are not final responses.
func parseStatusCodes(s string) ([]statusChoice, error) {
	if s == "" {
		return nil, errors.New("no status code")
	}
	var choices []statusChoice
	var total float64
	for item := range strings.SplitSeq(s, ",") {
		codeText, weightText, weighted := strings.Cut(item, ":")
		code, err := strconv.Atoi(strings.TrimSpace(codeText))
		if err != nil || code < 200 || code > 599 {
			return nil, fmt.Errorf("%q is not a status code in 200-599", codeText)
		}
		weight := 1.0
		if weighted {
			weight, err = strconv.ParseFloat(strings.TrimSpace(weightText), 64)
			if err != nil || weight < 0 || math.IsInf(weight, 0) || math.IsNaN(weight) {
				return nil, fmt.Errorf("%q is not a weight >= 0", weightText)
			}
		}
		total += weight
		choices = append(choices, statusChoice{code: code, weight: weight})
	}
	if total <= 0 {
		return nil, errors.New("weights add up to 0")
	}
	return choices, nil
}

// pickStatus chooses a code from choices (as parsed, total weight > 0) for u
// drawn uniformly from [0, 1).
func pickStatus(choices []statusChoice, u float64) int {
	var total float64
	for _, c := range choices {
		total += c.weight
	}
	target := u * total
	for _, c := range choices {
		if target < c.weight {
			return c.code
		}
		target -= c.weight
	}
	// Float rounding can leave target a hair above the last weight: take
	// the last code with a non-zero weight.
	for i := len(choices) - 1; i >= 0; i-- {
		if choices[i].weight > 0 {
			return choices[i].code
		}
	}
	return choices[len(choices)-1].code // not reached: total > 0
}
