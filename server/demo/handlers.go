package demo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxBody bounds the request body /anything reads.
const maxBody = 1 << 20

// statusClientClosed is logged when the client left before the response
// (nginx's 499).
const statusClientClosed = 499

// index is the text served at /.
const index = `Faultline demo target (httpbin-like)

GET  /                 this index
GET  /get              request args, headers, origin and url as JSON
GET  /headers          request headers as JSON
GET  /ip               client address as JSON
ANY  /anything[/...]   everything about the request as JSON, body included
ANY  /status/{codes}   reply with a status: 503 | 200,503 | 200:0.9,503:0.1
ANY  /delay/{seconds}  reply like /get after a delay (capped)
GET  /healthz          200 ok
`

func (h *HTTPBin) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", serveIndex)
	mux.HandleFunc("GET /get", serveGet)
	mux.HandleFunc("GET /headers", serveHeaders)
	mux.HandleFunc("GET /ip", serveIP)
	mux.HandleFunc("/anything", serveAnything)
	mux.HandleFunc("/anything/", serveAnything)
	mux.HandleFunc("/status/{codes}", serveStatus)
	mux.HandleFunc("/delay/{seconds}", h.serveDelay)
	mux.HandleFunc("GET /healthz", serveHealthz)
	return mux
}

// getResponse is the JSON of /get and /delay.
type getResponse struct {
	Args    map[string]any    `json:"args"`
	Headers map[string]string `json:"headers"`
	Origin  string            `json:"origin"`
	URL     string            `json:"url"`
}

// anythingResponse is the JSON of /anything.
type anythingResponse struct {
	Args    map[string]any    `json:"args"`
	Data    string            `json:"data"`
	Files   map[string]any    `json:"files"`
	Form    map[string]any    `json:"form"`
	Headers map[string]string `json:"headers"`
	JSON    any               `json:"json"`
	Method  string            `json:"method"`
	Origin  string            `json:"origin"`
	URL     string            `json:"url"`
}

func serveIndex(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, index)
}

func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok")
}

func serveGet(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, getOf(r))
}

func serveHeaders(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"headers": headersOf(r)})
}

func serveIP(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"origin": originOf(r)})
}

func serveAnything(w http.ResponseWriter, r *http.Request) {
	resp := anythingResponse{
		Args:    valuesOf(r.URL.Query()),
		Files:   map[string]any{},
		Form:    map[string]any{},
		Headers: headersOf(r),
		Method:  r.Method,
		Origin:  originOf(r),
		URL:     urlOf(r),
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	switch mediaType {
	case "application/x-www-form-urlencoded":
		err = r.ParseForm()
		resp.Form = valuesOf(r.PostForm)
	case "multipart/form-data":
		err = readMultipart(r, &resp)
	default:
		var body []byte
		body, err = io.ReadAll(r.Body)
		resp.Data = dataOf(body)
		if json.Valid(body) {
			resp.JSON = json.RawMessage(body)
		}
	}
	if err != nil {
		status := http.StatusBadRequest
		if errors.As(err, new(*http.MaxBytesError)) {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, fmt.Sprintf("reading body: %v", err), status)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// readMultipart fills form fields and files (file content as data).
func readMultipart(r *http.Request, resp *anythingResponse) error {
	if err := r.ParseMultipartForm(maxBody); err != nil {
		return err
	}
	resp.Form = valuesOf(r.MultipartForm.Value)
	for name, headers := range r.MultipartForm.File {
		var contents []string
		for _, fh := range headers {
			f, err := fh.Open()
			if err != nil {
				return err
			}
			b, err := io.ReadAll(f)
			_ = f.Close()
			if err != nil {
				return err
			}
			contents = append(contents, dataOf(b))
		}
		resp.Files[name] = oneOrMany(contents)
	}
	return nil
}

func serveStatus(w http.ResponseWriter, r *http.Request) {
	choices, err := parseStatusCodes(r.PathValue("codes"))
	if err != nil {
		http.Error(w, "invalid status code: "+err.Error(), http.StatusBadRequest)
		return
	}
	code := pickStatus(choices, rand.Float64())
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusUseProxy, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		w.Header().Set("Location", "/get")
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="Fake Realm"`)
	}
	w.WriteHeader(code)
}

func (h *HTTPBin) serveDelay(w http.ResponseWriter, r *http.Request) {
	text := r.PathValue("seconds")
	secs, err := strconv.ParseFloat(text, 64)
	if err != nil || secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) {
		http.Error(w, fmt.Sprintf("invalid delay %q: want seconds >= 0", text), http.StatusBadRequest)
		return
	}
	delay := min(time.Duration(secs*float64(time.Second)), h.maxDelay)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		writeJSON(w, http.StatusOK, getOf(r))
	case <-r.Context().Done():
		w.WriteHeader(statusClientClosed) // nobody reads it; it marks the access log
	}
}

func getOf(r *http.Request) getResponse {
	return getResponse{
		Args:    valuesOf(r.URL.Query()),
		Headers: headersOf(r),
		Origin:  originOf(r),
		URL:     urlOf(r),
	}
}

// headersOf returns r's headers as httpbin shows them: canonical names,
// several values joined with ",", Host included.
func headersOf(r *http.Request) map[string]string {
	out := make(map[string]string, len(r.Header)+1)
	for name, values := range r.Header {
		out[http.CanonicalHeaderKey(name)] = strings.Join(values, ",")
	}
	out["Host"] = r.Host
	return out
}

// valuesOf maps each key to its value, or to the list of its values when it
// has several, as httpbin shows args and form.
func valuesOf(v url.Values) map[string]any {
	out := make(map[string]any, len(v))
	for k, vs := range v {
		out[k] = oneOrMany(vs)
	}
	return out
}

func oneOrMany(vs []string) any {
	if len(vs) == 1 {
		return vs[0]
	}
	return vs
}

// originOf is the client's IP address.
func originOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// urlOf is the absolute URL the client asked for.
func urlOf(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// dataOf shows a body as text, or as a base64 data URL when it is not UTF-8,
// like httpbin.
func dataOf(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return "data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(b)
}

// writeJSON sends v as indented JSON, as httpbin does.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
