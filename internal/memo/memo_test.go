package memo

import (
	"strconv"
	"strings"
	"sync"
	"testing"
)

func byteCost(key string, v string) int { return len(key) + len(v) }

func TestGetRemembers(t *testing.T) {
	t.Parallel()
	calls := 0
	upper := func(s string) string { calls++; return strings.ToUpper(s) }
	c := New(1<<10, byteCost)
	for range 3 {
		if got := c.Get("abc", upper); got != "ABC" {
			t.Fatalf("Get = %q", got)
		}
	}
	if calls != 1 {
		t.Errorf("computed %d times, want 1", calls)
	}
}

func TestGetStaysWithinBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		budget      int
		keys        int
		wantLenMax  int
		wantMaxUsed int
	}{
		{"fits", 1000, 10, 10, 1000},
		{"overflows", 100, 1000, 10, 100}, // 10-byte entries: 10 at most
		{"none fits", 5, 100, 0, 5},
		{"no budget", 0, 10, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := New(tt.budget, byteCost)
			for i := range tt.keys {
				k := "k" + strconv.Itoa(10000+i) // 6 bytes
				if got := c.Get(k, func(s string) string { return s[:4] }); got != k[:4] {
					t.Fatalf("Get(%q) = %q", k, got)
				}
				if c.used > tt.wantMaxUsed {
					t.Fatalf("%d bytes used, budget %d", c.used, tt.budget)
				}
			}
			if n := c.Len(); n > tt.wantLenMax {
				t.Errorf("%d entries, want at most %d", n, tt.wantLenMax)
			}
		})
	}
}

func TestNilAndZeroCompute(t *testing.T) {
	t.Parallel()
	var nilCache *Strings[int]
	var zero Strings[int]
	for _, c := range []*Strings[int]{nilCache, &zero} {
		if got := c.Get("abc", func(s string) int { return len(s) }); got != 3 {
			t.Errorf("Get = %d", got)
		}
		if c.Len() != 0 {
			t.Error("remembered without a budget")
		}
	}
}

func TestGetConcurrent(t *testing.T) {
	t.Parallel()
	c := New(64, byteCost)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := strconv.Itoa((g*7 + i) % 50)
				if got := c.Get(k, func(s string) string { return s + s }); got != k+k {
					t.Errorf("Get(%q) = %q", k, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
