// Package webhook delivers signed JSON event notifications over HTTP.
//
// A delivery is one JSON POST of an event payload to a URL, retried a
// bounded number of times when the receiver is unreachable or answers
// 5xx or 429. Every request of a delivery carries these headers:
//
//	Content-Type:          application/json
//	User-Agent:            Faultline-Webhook/1
//	X-Faultline-Event:     the event name, e.g. "finished" or "failed"
//	X-Faultline-Delivery:  a random ID, the same on every retry of one delivery
//	X-Faultline-Timestamp: unix seconds when this attempt was signed
//	X-Faultline-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// The signature header is present only when the sender has a secret.
//
// # Where deliveries may go
//
// A Sender made by NewGuarded delivers only to public addresses, and to
// the hosts and addresses its Guard allows explicitly (serve --allow): a
// URL naming a private (RFC 1918, fc00::/7), loopback, link-local
// (169.254.0.0/16, the cloud metadata address among them; fe80::/10) or
// otherwise reserved address is refused, and so is a host name that
// resolves to one. The name is resolved when the delivery is made, every
// address it resolves to is checked, and the connection goes to a checked
// address, so a name that changes its answer (DNS rebinding) gains
// nothing. URLs with a user name or password are refused. A failed
// delivery is recorded as a class of failure (FailRefused, FailTimeout,
// "status 5xx", ...), never the network's own words, so its record tells
// nothing about what listens where.
//
// # Verifying a delivery
//
// A receiver that shares the secret checks a request like this (Verify
// does exactly this):
//
//  1. Read the raw request body, unchanged (do not re-encode the JSON).
//  2. Take the X-Faultline-Timestamp header value as it is, a decimal
//     number of unix seconds; refuse the request if it is more than a few
//     minutes away from the receiver's clock, in either direction, so a
//     captured request cannot be replayed later.
//  3. Compute HMAC-SHA256 with the shared secret as key over the bytes of
//     the timestamp string, a single "." and the raw body.
//  4. Hex-encode the MAC in lower case, prefix it with "sha256=" and
//     compare it with the X-Faultline-Signature header in constant time.
//
// A receiver should also remember recent X-Faultline-Delivery IDs if it
// must not act twice on a retried delivery.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Header names set on every delivery request.
const (
	// SignatureHeader carries "sha256=" followed by the lower-case hex
	// HMAC-SHA256, keyed with the shared secret, of the timestamp header
	// value, a ".", and the raw request body. It is absent when the sender
	// has no secret.
	SignatureHeader = "X-Faultline-Signature"
	// TimestampHeader carries the unix time, in decimal seconds, at which
	// the attempt was signed. It is part of the signed message.
	TimestampHeader = "X-Faultline-Timestamp"
	// EventHeader carries the event name of the payload.
	EventHeader = "X-Faultline-Event"
	// DeliveryHeader carries a random delivery ID, the same on every retry
	// of one delivery, so a receiver can drop duplicates.
	DeliveryHeader = "X-Faultline-Delivery"
)

// UserAgent is the User-Agent of every delivery request.
const UserAgent = "Faultline-Webhook/1"

const (
	// maxAttempts bounds the requests made for one delivery.
	maxAttempts = 3
	// firstBackoff is the wait before the second attempt; it doubles after.
	firstBackoff = 200 * time.Millisecond
	// attemptTimeout bounds one request of the default client.
	attemptTimeout = 10 * time.Second
	// defaultMaxAge is the timestamp tolerance Verify applies when given none.
	defaultMaxAge = 5 * time.Minute
	// drainLimit bounds how much of a response body is read and discarded.
	drainLimit = 64 << 10
)

// Errors returned by Verify, wrapped with detail; test them with errors.Is.
var (
	// ErrNoSecret means Verify was given an empty secret.
	ErrNoSecret = errors.New("webhook: no secret to verify with")
	// ErrUnsigned means the request lacks a signature or timestamp header.
	ErrUnsigned = errors.New("webhook: request is not signed")
	// ErrBadTimestamp means the timestamp is malformed, too old or in the future.
	ErrBadTimestamp = errors.New("webhook: timestamp refused")
	// ErrBadSignature means the signature does not match the body and timestamp.
	ErrBadSignature = errors.New("webhook: signature mismatch")
)

// Sender delivers webhook events. It is safe for concurrent use.
type Sender struct {
	secret  []byte
	client  *http.Client
	backoff time.Duration
	now     func() time.Time
	// guard, when set, applies the target rules (NewGuarded).
	guard *Guard
}

// New returns a Sender that signs deliveries with secret and delivers
// anywhere (see NewGuarded). An empty secret sends them unsigned (no
// SignatureHeader). A nil client is replaced with one that gives each
// attempt 10 seconds and does not follow redirects (a redirect counts as a
// failed, non-retried delivery).
func New(secret []byte, client *http.Client) *Sender {
	if client == nil {
		client = &http.Client{Timeout: attemptTimeout, CheckRedirect: noRedirects}
	}
	return &Sender{
		secret:  bytes.Clone(secret),
		client:  client,
		backoff: firstBackoff,
		now:     time.Now,
	}
}

// NewGuarded is New with the target rules of g: its client dials only
// addresses g allows, directly (never through HTTP_PROXY, whose address
// is not the receiver's), one connection a delivery.
func NewGuarded(secret []byte, g *Guard) *Sender {
	transport := &http.Transport{
		DialContext:         g.dial,
		TLSHandshakeTimeout: attemptTimeout,
		DisableKeepAlives:   true,
	}
	s := New(secret, &http.Client{Timeout: attemptTimeout, CheckRedirect: noRedirects, Transport: transport})
	s.guard = g
	return s
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Delivery is the outcome of one Send.
type Delivery struct {
	// ID is the random delivery ID sent in DeliveryHeader.
	ID string `json:"id"`
	// Event is the event name sent in EventHeader.
	Event string `json:"event"`
	// URL is the receiver's URL.
	URL string `json:"url"`
	// StatusCode is the HTTP status of the last attempt, 0 if none answered.
	StatusCode int `json:"statusCode"`
	// Attempts counts the requests made, 0 if the delivery could not start.
	Attempts int `json:"attempts"`
	// Err says why the last attempt failed, as a class (FailTimeout,
	// "status 5xx", ...); empty when the delivery succeeded.
	Err string `json:"error,omitempty"`
	// Detail is the failure in the network's own words, for the server's
	// log only.
	Detail string `json:"-"`
	// At is when the delivery began.
	At time.Time `json:"at"`
}

// OK reports whether the receiver accepted the delivery with a 2xx status.
func (d Delivery) OK() bool { return d.Err == "" && d.StatusCode >= 200 && d.StatusCode < 300 }

// Send POSTs payload, encoded as JSON, to url as event. It makes up to
// three attempts: a network error, a 5xx or a 429 is retried after a short
// back-off (200 ms, then 400 ms); a 2xx ends the delivery, and any other
// status ends it as failed. Cancelling ctx stops the current attempt and
// any further ones. Send never panics; every failure is reported in the
// returned Delivery's Err.
func (s *Sender) Send(ctx context.Context, url, event string, payload any) (d Delivery) {
	d = Delivery{Event: event, URL: url, At: s.now()}
	defer func() {
		if r := recover(); r != nil {
			d.Err = fmt.Sprintf("internal error: %v", r)
		}
	}()
	id, err := newID()
	if err != nil {
		d.Err = err.Error()
		return d
	}
	d.ID = id
	if err := checkURL(url); err != nil {
		d.Err = err.Error() // the URL's own fault, not the network's
		return d
	}
	body, err := json.Marshal(payload)
	if err != nil {
		d.Err = fmt.Sprintf("encode payload: %v", err)
		return d
	}
	wait := s.backoff
	for {
		d.Attempts++
		status, retry, err := s.attempt(ctx, url, event, id, body)
		d.StatusCode = status
		if err == nil {
			d.Err, d.Detail = "", ""
			return d
		}
		d.Err, d.Detail = classify(err), err.Error()
		if !retry || d.Attempts >= maxAttempts {
			return d
		}
		if err := sleep(ctx, wait); err != nil {
			d.Err = fmt.Sprintf("%s; retry stopped: %s", d.Err, classify(err))
			d.Detail = fmt.Sprintf("%s; retry stopped: %v", d.Detail, err)
			return d
		}
		wait *= 2
	}
}

// Check applies the target rules to a receiver's URL as it is saved: a
// URL with a user name or password is refused, and with a Guard so is an
// address that is neither public nor allowed, or a host name that
// resolves to one now (the delivery resolves it again). A name that does
// not resolve now is let through. Refusals are *RefusedError.
func (s *Sender) Check(ctx context.Context, raw string) error {
	if err := checkURL(raw); err != nil {
		return &RefusedError{Reason: err.Error()}
	}
	if s.guard == nil {
		return nil
	}
	u, _ := url.Parse(raw)
	_, err := s.guard.addrs(ctx, u.Hostname(), urlPort(u))
	var refused *RefusedError
	if errors.As(err, &refused) {
		return refused
	}
	return nil
}

// attempt makes one request. It returns the response status (0 without a
// response), whether a failure may be retried, and the failure.
func (s *Sender) attempt(ctx context.Context, url, event, id string, body []byte) (int, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(EventHeader, event)
	req.Header.Set(DeliveryHeader, id)
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req.Header.Set(TimestampHeader, ts)
	if len(s.secret) > 0 {
		req.Header.Set(SignatureHeader, sign(s.secret, ts, body))
	}
	resp, err := s.client.Do(req)
	var refused *RefusedError
	if err != nil {
		// A cancelled ctx and the target rules are final; anything else
		// (dial, reset, timeout) may pass.
		return 0, ctx.Err() == nil && !errors.As(err, &refused), err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	_ = resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return code, false, nil
	case code >= 500 || code == http.StatusTooManyRequests:
		return code, true, &StatusError{Code: code}
	default:
		return code, false, &StatusError{Code: code}
	}
}

// Verify checks a delivery request's signature against secret: h holds the
// request headers and body its raw body. It refuses a request whose
// timestamp is more than maxAge before or after now (maxAge <= 0 means five
// minutes), and compares signatures in constant time. The errors wrap
// ErrNoSecret, ErrUnsigned, ErrBadTimestamp or ErrBadSignature.
func Verify(secret []byte, h http.Header, body []byte, maxAge time.Duration) error {
	return verifyAt(secret, h, body, maxAge, time.Now())
}

func verifyAt(secret []byte, h http.Header, body []byte, maxAge time.Duration, now time.Time) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	if maxAge <= 0 {
		maxAge = defaultMaxAge
	}
	ts, sig := h.Get(TimestampHeader), h.Get(SignatureHeader)
	if ts == "" || sig == "" {
		return fmt.Errorf("%w: %s and %s are required", ErrUnsigned, TimestampHeader, SignatureHeader)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not unix seconds", ErrBadTimestamp, TimestampHeader, ts)
	}
	age := now.Sub(time.Unix(sec, 0))
	if age > maxAge {
		return fmt.Errorf("%w: %s is %s old, more than %s", ErrBadTimestamp, TimestampHeader, age.Truncate(time.Second), maxAge)
	}
	if -age > maxAge {
		return fmt.Errorf("%w: %s is %s in the future, more than %s", ErrBadTimestamp, TimestampHeader, (-age).Truncate(time.Second), maxAge)
	}
	got, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return fmt.Errorf("%w: %s must start with \"sha256=\"", ErrBadSignature, SignatureHeader)
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return fmt.Errorf("%w: %s is not hex", ErrBadSignature, SignatureHeader)
	}
	if !hmac.Equal(gotMAC, mac(secret, ts, body)) {
		return ErrBadSignature
	}
	return nil
}

// sign returns the SignatureHeader value for timestamp ts and body.
func sign(secret []byte, ts string, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// newID returns a random 128-bit delivery ID in hex.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("delivery id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// checkURL accepts only absolute http and https URLs with a host and no
// user information.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("url %q: host is missing", u.Redacted())
	}
	if u.User != nil {
		return fmt.Errorf("url %q: a user name or password in the URL is refused (deliveries are signed with the server's webhook secret instead)", u.Redacted())
	}
	return nil
}

// sleep waits for d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
