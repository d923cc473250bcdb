package demo

import (
	"html/template"
	"io"
	"net/http"
)

// storeIndex is productpage's / page.
const storeIndex = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Simple Bookstore App</title></head>
<body>
<h3>Hello! This is a simple bookstore application consisting of three services as shown below</h3>
<p>productpage → reviews (v1: no ratings, v2: black stars, v3: red stars) → ratings,
every call through a Faultline proxy listener.</p>
<p>Click on one of the links below to auto generate a request to the backend as a real user or a tester</p>
<p><a href="/productpage?u=normal">Normal user</a></p>
<p><a href="/productpage?u=test">Test user</a></p>
</body>
</html>
`

func serveStoreIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, storeIndex)
}

// pageTemplate renders a Page the way Bookinfo's productpage.html does:
// the book, its details, then the reviews with their stars, or the error
// text of each part that could not be had.
var pageTemplate = template.Must(template.New("productpage").Funcs(template.FuncMap{
	"stars": func(n int) []struct{} { return make([]struct{}, max(n, 0)) },
	"blank": func(n int) []struct{} { return make([]struct{}, max(5-n, 0)) },
	// trusted marks the built-in product description as HTML, as
	// Bookinfo's template does with |safe; it never sees request data.
	"trusted": func(s string) template.HTML { return template.HTML(s) }, //nolint:gosec // a constant of this package
}).Parse(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Simple Bookstore App</title></head>
<body>
<nav>BookInfo Sample{{if .User}} · <span id="user">Welcome, {{.User}}</span>{{end}}</nav>
<h1>{{.Product.Title}}</h1>
<p>Summary: {{trusted .Product.DescriptionHTML}}</p>
{{- if .DetailsError}}
<h4>Error fetching product details!</h4>
<p id="details-error">{{.DetailsError}}</p>
{{- else}}
<h4>Book Details</h4>
<dl>
<dt>Type:</dt><dd>{{.Details.Type}}</dd>
<dt>Pages:</dt><dd>{{.Details.Pages}}</dd>
<dt>Publisher:</dt><dd>{{.Details.Publisher}}</dd>
<dt>Language:</dt><dd>{{.Details.Language}}</dd>
<dt>ISBN-10:</dt><dd>{{.Details.ISBN10}}</dd>
<dt>ISBN-13:</dt><dd>{{.Details.ISBN13}}</dd>
</dl>
{{- end}}
<h4>Book Reviews</h4>
{{- if .ReviewsError}}
<h3>Error fetching product reviews!</h3>
<p id="reviews-error">{{.ReviewsError}}</p>
{{- else}}
{{- range .Reviews}}
<blockquote>
<p>{{.Text}}</p>
<small>{{.Reviewer}}</small>
{{- with .Rating}}
{{- if .Error}}
<p><i class="rating-error">{{.Error}}</i></p>
{{- else}}
<font color="{{.Color}}" class="stars">{{range stars .Stars}}★{{end}}{{range blank .Stars}}☆{{end}}</font>
{{- end}}
{{- end}}
</blockquote>
{{- end}}
<p><small>Reviews served by: {{.ReviewsPod}}</small></p>
{{- end}}
</body>
</html>
`))
