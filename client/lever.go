package client

import (
	"context"
	"net/http"
	"time"
)

// Lever is the safety lever: while it is engaged every run, game day and
// overlay is halted and new ones are refused (409, Code lever).
type Lever struct {
	Engaged bool   `json:"engaged"`
	Reason  string `json:"reason,omitempty"`
	// Since is when the lever last moved; zero when it never did.
	Since time.Time `json:"since"`
	// By is who moved it: the token's name, or what LeverChange.By said
	// on a server without tokens.
	By string `json:"by,omitempty"`
}

// LeverChange moves the lever.
type LeverChange struct {
	// Engaged true halts everything and refuses new runs until released.
	Engaged bool `json:"engaged"`
	// Reason is required when engaging.
	Reason string `json:"reason"`
	// By names who moves it on a server without tokens; with tokens the
	// token's name is recorded instead.
	By string `json:"by,omitempty"`
}

// LeverService reads and moves the safety lever: /api/v1/safety/lever.
type LeverService struct{ c *Client }

// Get reads the lever.
func (s *LeverService) Get(ctx context.Context) (*Lever, error) {
	var l Lever
	if err := s.c.getJSON(ctx, "/api/v1/safety/lever", nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Move engages or releases the lever and returns it after the move; every
// move is recorded.
func (s *LeverService) Move(ctx context.Context, change LeverChange) (*Lever, error) {
	var l Lever
	if err := s.c.postJSON(ctx, http.MethodPost, "/api/v1/safety/lever", change, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Engage engages the lever for reason (required: without one the server
// answers 400 at field reason): every queued and running run and game day
// halts, every overlay reverts, and nothing new starts until Release.
func (s *LeverService) Engage(ctx context.Context, reason string) (*Lever, error) {
	return s.Move(ctx, LeverChange{Engaged: true, Reason: reason})
}

// Release releases the lever, saying why (reason may be empty).
func (s *LeverService) Release(ctx context.Context, reason string) (*Lever, error) {
	return s.Move(ctx, LeverChange{Engaged: false, Reason: reason})
}
