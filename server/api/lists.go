package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/faultline/faultline/server/store"
)

// listJSON is a page of a list.
type listJSON[T any] struct {
	Items  []T   `json:"items"`
	Total  int64 `json:"total"`
	Limit  int   `json:"limit"`
	Offset int   `json:"offset"`
}

// pageJSON renders page p of a list, total items in all, converting each
// item with conv.
func pageJSON[T, J any](items []T, total int64, p store.Page, conv func(*T) J) listJSON[J] {
	out := listJSON[J]{Items: make([]J, len(items)), Total: total, Limit: p.Limit, Offset: p.Offset}
	for i := range items {
		out.Items[i] = conv(&items[i])
	}
	return out
}

// writeList answers a list request: it reads the page the query asks for
// (pageOf), lists it and renders each item with conv.
func writeList[T, J any](c *gin.Context, log *slog.Logger, list func(ctx context.Context, p store.Page) ([]T, int64, error), conv func(*T) J) {
	page, err := pageOf(c)
	if err != nil {
		writeError(c, log, err)
		return
	}
	items, total, err := list(c.Request.Context(), page)
	if err != nil {
		writeError(c, log, err)
		return
	}
	c.JSON(http.StatusOK, pageJSON(items, total, page, conv))
}

// writeOwnedList answers a list of what belongs to the owner that the
// path parameter "id" names (a game day's runs, a schedule's fires): an
// owner that get does not find is a 404, not an empty list.
func writeOwnedList[O, T, J any](c *gin.Context, log *slog.Logger, get func(ctx context.Context, id int64) (*O, error),
	list func(ctx context.Context, id int64, p store.Page) ([]T, int64, error), conv func(*T) J) {
	id, err := idParam(c, "id")
	if err != nil {
		writeError(c, log, err)
		return
	}
	writeList(c, log, func(ctx context.Context, p store.Page) ([]T, int64, error) {
		if _, err := get(ctx, id); err != nil {
			return nil, 0, err
		}
		return list(ctx, id, p)
	}, conv)
}

// byID gets what the path parameter "id" names.
func byID[T any](c *gin.Context, get func(ctx context.Context, id int64) (*T, error)) (int64, *T, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return 0, nil, err
	}
	v, err := get(c.Request.Context(), id)
	return id, v, err
}

// idParam reads a positive integer path parameter.
func idParam(c *gin.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, &Error{Status: http.StatusBadRequest, Message: name + " must be a positive integer, not " + strconv.Quote(c.Param(name)), Field: name}
	}
	return id, nil
}

// pageOf reads ?limit= (1–500, default 50) and ?offset= (≥ 0).
func pageOf(c *gin.Context) (store.Page, error) {
	p := store.Page{Limit: 50}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return p, &Error{Status: http.StatusBadRequest, Message: "limit must be an integer from 1 to 500", Field: "limit"}
		}
		p.Limit = n
	}
	if s := c.Query("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, &Error{Status: http.StatusBadRequest, Message: "offset must be a non-negative integer", Field: "offset"}
		}
		p.Offset = n
	}
	return p, nil
}
