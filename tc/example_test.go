package tc_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/tc"
)

// TestShopShowsTheLastPriceWhilePricesIsDown is the README's example:
// Faultline between a service under test and its dependency, a fault laid
// over the dependency for a while, the service's fallback checked, the
// fault removed and the recovery checked.
func TestShopShowsTheLastPriceWhilePricesIsDown(t *testing.T) {
	ctx := t.Context()
	// tc.Run(ctx) runs faultline:local; the tests run an image of this tree.
	fl, err := tc.Run(ctx, tc.WithImage(faultlineImage(t)))
	testcontainers.CleanupContainer(t, fl)
	if err != nil {
		t.Fatal(err)
	}
	var pricesCalls atomic.Int64
	prices := httptest.NewServer(pricesHandler(&pricesCalls)) // the dependency
	defer prices.Close()
	egress, err := tc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	_, err = fl.Environment(ctx, fmt.Sprintf(`apiVersion: faultline.dev/v1alpha1
kind: Environment
metadata: {name: shop}
spec:
  egress: 127.0.0.1:%d
  services:
  - {host: prices, port: 8080, endpoints: [{address: "%s"}]}
`, egress, prices.Listener.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	// The service under test calls http://prices:8080 through the egress (its HTTP_PROXY)
	// and shows the last price it got when prices fails.
	shop := httptest.NewServer(newShop(&url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", egress)}))
	defer shop.Close()
	if got := price(t, shop.URL); got != "19.99 (live)" {
		t.Fatalf("before the fault: %q", got)
	}

	ov, err := fl.Overlay(ctx, "shop", 30*time.Second, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: prices}
spec:
  hosts: [prices]
  http:
  - fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: prices}}]
`)
	if err != nil {
		t.Fatal(err)
	}
	calls := pricesCalls.Load()
	if got := price(t, shop.URL); got != "19.99 (last known)" {
		t.Errorf("prices down: %q", got)
	}
	if got := pricesCalls.Load() - calls; got != 0 {
		t.Errorf("prices saw %d calls while the fault held, want 0 (the egress answers 503 itself)", got)
	}
	if err := ov.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if got := price(t, shop.URL); got != "19.99 (live)" {
		t.Errorf("after the fault: %q", got)
	}
}

// pricesHandler is the dependency: the price of every book, in cents.
func pricesHandler(calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprint(w, `{"cents": 1999}`)
	})
}

// newShop is the service under test: GET / shows the price of a book
// from http://prices:8080, and the last one it got when prices fails.
func newShop(proxy *url.URL) http.Handler {
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}, Timeout: 5 * time.Second}
	var mu sync.Mutex
	last := ""
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		p, err := fetchPrice(r, client)
		switch {
		case err == nil:
			last = p
			fmt.Fprintf(w, "%s (live)", p)
		case last != "":
			fmt.Fprintf(w, "%s (last known)", last)
		default:
			http.Error(w, "no price: "+err.Error(), http.StatusBadGateway)
		}
	})
}

func fetchPrice(r *http.Request, client *http.Client) (string, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://prices:8080/books/42", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("prices: %s", resp.Status)
	}
	var p struct{ Cents int }
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d.%02d", p.Cents/100, p.Cents%100), nil
}

// price asks the shop for the price.
func price(t *testing.T, shop string) string {
	t.Helper()
	resp, err := http.Get(shop)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
