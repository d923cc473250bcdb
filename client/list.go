package client

import (
	"net/url"
	"strconv"
)

// ListOptions asks for one page of a list.
type ListOptions struct {
	// Limit is the page's size, 1 to 500; zero means the server's
	// default (50).
	Limit int
	// Offset is how many items to pass over; zero starts at the first.
	Offset int
}

// values renders the options as ?limit=&offset=, leaving out zeros.
func (o ListOptions) values() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	return q
}

// Page is one page of a list: its Items, and how many there are in all.
type Page[T any] struct {
	Items []T `json:"items"`
	// Total counts the items of the whole list.
	Total int64 `json:"total"`
	// Limit and Offset are the page the server answered with.
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// Next returns the options that read the page after p; ok is false when
// p holds the list's last item.
func (p *Page[T]) Next() (next ListOptions, ok bool) {
	end := p.Offset + len(p.Items)
	if len(p.Items) == 0 || int64(end) >= p.Total {
		return ListOptions{}, false
	}
	return ListOptions{Limit: p.Limit, Offset: end}, true
}

// maxPage is the largest page the API serves.
const maxPage = 500
